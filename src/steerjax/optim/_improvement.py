"""How much the conditional scheme improves optimal steering (Sec. VI, Appendix B, Fig. 8).

``d = (E_u* - E_c*) / E_u*``: the relative improvement of the optimal steering parameter when
the joint output light is measured and filtered (E_c*, optimised over theta_+-, C_+ and the
local-oscillator phase) over the unconditional optimum (E_u*, optimised over theta_+-, C_+),
each side optimised on its own.

Search strategy (the same as :func:`steerjax.optimize` uses for a conditional problem, done
here once for both sides).  E_u* comes from :func:`steerjax.optimize` with its usual
multi-start.  The conditional search is warm-started from the unconditional optimum (its box
coordinates, with the local-oscillator phase appended) at each phase of ``lo_phase_starts`` --
by default 0 and pi/4.  At the unconditional optimum E_c is smallest at phase 0 for both thermal sets and
directions (measured on a 13-point phase grid at C_- = 1, 10, 100, 1000) and largest at pi/2,
where the detected quadrature hides the slow client mode and the float64 Riccati solve is at
its least accurate near the stability edge.  Local search from those warm starts never ends
above its start, so ``E_c* <= E_c(unconditional design, phase 0)``; the result also reports
that fixed-design value (``E_c_at_unconditional_design``) as a floor on ``d``.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import select_direction
from ..model._conditional import conditional_steering_from_rates
from ..model._params import Thermal
from ..model._rates import cascade_rates, thermal_in_rate_units
from ._optimize import CONDITIONAL_WARM_PHASES, conditional_warm_starts, optimize
from ._options import ExecutionOptions, SearchOptions
from ._problem import Problem
from ._result import OptimumResult

__all__ = ["ConditionalImprovement", "conditional_improvement"]


class ConditionalImprovement(eqx.Module):
    """Result of :func:`conditional_improvement` (batch shape of the grid on every field).

    Attributes:
        C_minus: client cooperativities of the grid.
        unconditional: :class:`~steerjax.OptimumResult` of the unconditional problem.
        conditional: :class:`~steerjax.OptimumResult` of the conditional problem
            (``value`` is E_c*, ``lo_phase`` the optimal local-oscillator phase [rad]).
        E_c_at_unconditional_design: conditional E at the unconditional optimum, phase 0.
    """

    C_minus: Array
    unconditional: OptimumResult
    conditional: OptimumResult
    E_c_at_unconditional_design: Array

    @property
    def E_u(self) -> Array:
        """Optimal unconditional steering parameter E_u*."""
        return self.unconditional.value

    @property
    def E_c(self) -> Array:
        """Optimal conditional steering parameter E_c*."""
        return self.conditional.value

    @property
    def d(self) -> Array:
        """Relative improvement ``(E_u* - E_c*) / E_u*`` (Fig. 8; dimensionless)."""
        return (self.E_u - self.E_c) / self.E_u

    @property
    def d_at_unconditional_design(self) -> Array:
        """``(E_u* - E_c(unconditional design, phase 0)) / E_u*``: a floor on :attr:`d`."""
        return (self.E_u - self.E_c_at_unconditional_design) / self.E_u


def conditional_improvement(
    thermal: Thermal,
    C_minus,
    *,
    direction: str = "plus-given-minus",
    efficiency=1.0,
    eps=0.0,
    coupling: str = "asymmetric",
    lo_phase_starts: Sequence[float] = CONDITIONAL_WARM_PHASES,
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
) -> ConditionalImprovement:
    """Optimal unconditional and conditional steering and their relative difference d (Fig. 8).

    Args:
        thermal: thermal parameters (e.g. ``steerjax.HOT``).
        C_minus: client cooperativities (1-D grid or any batch shape).
        direction: ``"plus-given-minus"`` or ``"minus-given-plus"``.
        efficiency: homodyne detection efficiency eta in [0, 1] of the conditional scheme.
        eps: transmission loss in [0, 1).
        coupling: ``"asymmetric"`` (f != 0 allowed) or ``"symmetric"``.
        lo_phase_starts: local-oscillator phases [rad] at which the conditional search is
            warm-started from the unconditional optimum (one local search each).
        search: :class:`~steerjax.SearchOptions`: the solver of both searches, and the
            multi-start (n_starts, seed) of the unconditional one; default ``SearchOptions()``.
        execution: :class:`~steerjax.ExecutionOptions` of both searches.

    Returns:
        :class:`ConditionalImprovement`.

    Examples:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> res = sj.conditional_improvement(sj.HOT, [10.0])
        >>> bool(res.d[0] > 0.01)
        True
    """
    lo_phase_starts = [float(x) for x in lo_phase_starts]
    if not lo_phase_starts:
        raise ValueError("lo_phase_starts is empty; give at least one phase [rad]")
    if np.size(C_minus) == 0:
        raise ValueError(f"C_minus: the batch is empty (shape {np.shape(C_minus)}); give at least one value")
    C_minus = jnp.asarray(C_minus, dtype=jnp.result_type(float))
    kwargs = dict(eps=eps, direction=direction, coupling=coupling)
    unc = Problem(thermal, C_minus=C_minus, **kwargs)
    res_u = optimize(unc, search, execution)
    cond = Problem(thermal, C_minus=C_minus, conditional=True, efficiency=efficiency, **kwargs)
    starts = conditional_warm_starts(cond, res_u.w, lo_phase_starts)  # batch + (n_starts, n)
    res_c = optimize(cond, search, execution, starts=starts)
    rates = cascade_rates(thermal_in_rate_units(thermal)[0], res_u.design)  # E is dimensionless
    e_pm, e_mp = conditional_steering_from_rates(rates, 0.0, 0.0, cond.efficiency)
    fixed = select_direction(unc.direction, e_pm, e_mp)
    return ConditionalImprovement(
        C_minus=C_minus, unconditional=res_u, conditional=res_c, E_c_at_unconditional_design=fixed
    )
