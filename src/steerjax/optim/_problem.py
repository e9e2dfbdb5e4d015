"""The design problem (Sec. V): what is minimised, over which box, with which checks."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import (
    array_namespace,
    check_domain,
    parse_direction,
    stability_edge,
)
from ..model._checks import is_concrete
from ..model._params import Thermal, check_real
from ._problem_args import (
    _DEFAULT_LO_PHASE_BOUNDS,
    _HALF_PI,
    _THERMAL_FIELDS,
    _check_batch_shapes,
    _check_conditional,
    _check_interval,
    _check_overlap,
    _measurement_leaves,
    _phase_tolerance_leaf,
)
from ._reparam import (
    AngleInterval,
    angle_interval,
)

COUPLINGS = ("asymmetric", "symmetric")
"""``asymmetric``: theta_+, theta_-, C_+ free (f != 0 allowed); ``symmetric``: theta_+ = theta_-
tied (f = 0), C_+ free."""

EDGE_DAMPING_RATIO = 1e-6
"""A result sits at a stability edge when an oscillator's damping ratio gamma/(gamma_0 + Gamma)
is below this value."""


class Measurement(eqx.Module):
    """The homodyne measurement of the conditional scheme (Sec. VI, Appendix B) of a
    :class:`Problem` (its batch shape on every field; built by :class:`Problem`).

    Attributes:
        efficiency: detection efficiency eta in [0, 1] [dimensionless].
        lo_phase_bounds: (low, high) interval of the local-oscillator phase [rad].
    """

    efficiency: Array
    lo_phase_bounds: Array


class Problem(eqx.Module):
    """An optimal-steering problem (or a batch of them: leading axes on the array fields).

    Args:
        thermal: thermal parameters.
        C_minus: the client's cooperativity C_- (fixed), > 0.
        eps: transmission loss in [0, 1) (ignored if ``eps_bounds`` is given: eps then becomes
            a free parameter within those bounds).
        direction: ``"plus-given-minus"`` (minimise E_{+|-}, the default client => server
            scenario) or ``"minus-given-plus"``.  Ignored when ``objective`` is given.
        coupling: ``"asymmetric"`` (theta_+, theta_- free) or ``"symmetric"`` (theta_+ =
            theta_- tied, f = 0).
        objective: optional callable ``(SteeringResult, Design) -> scalar`` to minimise instead
            of E; it must be a pure JAX function (it is traced and differentiated).  A pytree
            callable -- ``jax.tree_util.Partial(f, params)`` or an equinox Module with array
            fields -- is compiled once per function and tree structure: new array values (e.g.
            other ``params``) reuse the compiled search.  A plain function or lambda is compiled
            once per function object.
        theta_plus_bounds, theta_minus_bounds: optional angle intervals [rad] within [0, pi/2]
            (e.g. a client of limited tunability); the stable part is used.  Equal ends fix the
            angle.  For symmetric coupling the common angle lies in both intervals.
        C_plus_bounds: optional absolute bounds on C_+ (default ``C_plus_ratio_bounds * C_-``).
        C_plus_ratio_bounds: bounds on C_+/C_- used when ``C_plus_bounds`` is not given;
            default (1e-3, 1e3).
        eps_bounds: optional (low, high) within [0, 1) making eps free.
        min_damping_ratio: keep each oscillator's damping ratio gamma/(gamma_0 + Gamma) at or
            above this value (default 0: the search may approach the stability edge to within
            ~1e-12, which is where the asymmetric optimum lies).
        conditional: minimise the *conditional* E (Sec. VI, Appendix B): the output light is
            measured by homodyne detection and filtered optimally
            (:func:`steerjax.model.conditional_steering_from_rates` at phi = 0).  The
            local-oscillator phase is then a free parameter (one more search coordinate, the
            last).  Not combinable with ``objective``.  Stored as :attr:`measurement`.
        efficiency: detection efficiency eta in [0, 1] of the conditional scheme (default 1;
            only with ``conditional=True``).  ``0`` reproduces the unconditional problem.
        lo_phase_bounds: (low, high) interval [rad] of the local-oscillator phase (only with
            ``conditional=True``; default ``(0, pi)``, a full period: the homodyne currents
            only change sign under ``lo_phase -> lo_phase + pi``).  Equal ends fix the phase.
        phase_tolerance: optional tolerance delta [rad] on the inter-subsystem phase phi, in
            [0, pi/2] (E is pi-periodic in phi), a scalar or one per problem (broadcast like
            ``C_minus``).  When given, the objective minimised is the *worst case* of E of
            the chosen direction over phi in [-delta, delta]
            (:func:`steerjax.model.worst_case_over_phase_from_rates`: the exact maximum over
            the interval, differentiable by the envelope theorem), and the result reports it
            as :attr:`OptimumResult.E_worst` (``value`` stays the nominal E at phi = 0).  Not
            combinable with ``conditional=True`` or ``objective``.  ``None`` (default) or
            ``0`` (every entry zero): the nominal problem, with today's compiled program and
            numbers (a tolerance of all zeros is stored as ``None``).

    The constructor converts each argument (checking its own format and range, so that a
    message quotes the argument as given) and broadcasts them to one batch shape; the checks
    of the assembled problem are in ``__check_init__`` (equinox runs it after ``__init__``):
    the static settings, and for concrete input that some allowed design is stable, evaluated
    in numpy (nothing is compiled in the constructor).  A problem built inside ``jit`` or
    ``vmap`` is assembled in ``jax.numpy`` and not checked for stability.

    Example:
        >>> import steerjax as sj
        >>> p = sj.Problem(sj.HOT, C_minus=10.0)
        >>> p.coupling, p.direction
        ('asymmetric', 'plus-given-minus')
        >>> q = sj.Problem(sj.HOT, C_minus=10.0, conditional=True, efficiency=0.9)
        >>> q.n_variables  # theta_+, theta_-, log C_+ and the local-oscillator phase
        4
    """

    thermal: Thermal
    C_minus: Array
    eps: Array
    theta_plus_bounds: Array
    theta_minus_bounds: Array
    C_plus_bounds: Array
    eps_bounds: Array
    min_damping_ratio: Array
    measurement: Measurement | None
    """The conditional scheme's measurement; ``None`` for an unconditional problem."""
    phase_tolerance: Array | None
    """Tolerance delta [rad] on the phase phi (batch shape); ``None``: no tolerance (nominal
    objective; the robust branch is then not in the traced program)."""
    objective: Callable | None
    direction: str = eqx.field(static=True)
    coupling: str = eqx.field(static=True)
    free_eps: bool = eqx.field(static=True)

    def __init__(
        self,
        thermal: Thermal,
        C_minus,
        *,
        eps=0.0,
        direction: str = "plus-given-minus",
        coupling: str = "asymmetric",
        objective: Callable | None = None,
        theta_plus_bounds=None,
        theta_minus_bounds=None,
        C_plus_bounds=None,
        C_plus_ratio_bounds=(1e-3, 1e3),
        eps_bounds=None,
        min_damping_ratio=0.0,
        conditional: bool = False,
        efficiency=None,
        lo_phase_bounds=None,
        phase_tolerance=None,
    ):
        self.direction = parse_direction(direction)
        self.coupling = coupling
        self.objective = objective
        self.free_eps = eps_bounds is not None
        fields = _problem_arrays(
            thermal,
            C_minus,
            eps=eps,
            symmetric=coupling == "symmetric",
            theta_plus_bounds=theta_plus_bounds,
            theta_minus_bounds=theta_minus_bounds,
            C_plus_bounds=C_plus_bounds,
            C_plus_ratio_bounds=C_plus_ratio_bounds,
            eps_bounds=eps_bounds,
            min_damping_ratio=min_damping_ratio,
            conditional=_check_conditional(conditional, efficiency, lo_phase_bounds),
            efficiency=efficiency,
            lo_phase_bounds=lo_phase_bounds,
            phase_tolerance=phase_tolerance,
        )
        for name, value in fields.items():
            setattr(self, name, value)

    def __check_init__(self):
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling = {self.coupling!r} is not allowed; use one of {COUPLINGS}")
        if self.objective is not None and not callable(self.objective):
            raise ValueError(
                f"objective = {self.objective!r} must be callable (SteeringResult, Design) -> scalar"
            )
        if self.objective is not None and self.conditional:
            raise ValueError(
                "objective is not supported with conditional=True (the conditional objective is the "
                "conditional E of the chosen direction)"
            )
        if self.phase_tolerance is not None and (self.objective is not None or self.conditional):
            raise ValueError(
                "phase_tolerance is not supported with "
                + ("conditional=True" if self.conditional else "a custom objective")
                + " (the phase-robust objective is the worst case of E of the chosen direction)"
            )
        if is_concrete(self.thermal, self.C_minus, self.eps, self.C_plus_bounds):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                feasible = _stable_design_exists(
                    np.asarray(self.thermal.nbar_plus),
                    np.asarray(self.thermal.nbar_minus),
                    np.asarray(self.C_minus),
                    np.asarray(self.C_plus_bounds)[..., 0],
                    np.asarray(self.theta_plus_bounds),
                    np.asarray(self.theta_minus_bounds),
                    np.asarray(self.min_damping_ratio),
                    self.coupling,
                )
            if not np.all(feasible):
                raise ValueError(_infeasible_message(self.C_minus))

    @property
    def conditional(self) -> bool:
        """Whether the objective is the conditional E (a :attr:`measurement` is set)."""
        return self.measurement is not None

    @property
    def efficiency(self) -> Array:
        """Detection efficiency eta [dimensionless] of the conditional scheme (1 where the
        problem is unconditional)."""
        if self.measurement is None:
            return jax.device_put(np.ones(self.batch_shape))
        return self.measurement.efficiency

    @property
    def lo_phase_bounds(self) -> Array:
        """(low, high) of the local-oscillator phase [rad] (``(0, pi)`` where the problem is
        unconditional)."""
        if self.measurement is None:
            return jax.device_put(np.tile(np.asarray(_DEFAULT_LO_PHASE_BOUNDS), (*self.batch_shape, 1)))
        return self.measurement.lo_phase_bounds

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(jnp.shape(self.C_minus))

    @property
    def n_variables(self) -> int:
        """Dimension of the unconstrained search space."""
        return self._n_design + (1 if self.free_eps else 0) + (1 if self.conditional else 0)

    @property
    def _n_design(self) -> int:
        """Number of design coordinates before the optional eps and lo_phase coordinates."""
        return 3 if self.coupling == "asymmetric" else 2


def _problem_arrays(
    thermal,
    C_minus,
    *,
    eps,
    symmetric,
    theta_plus_bounds,
    theta_minus_bounds,
    C_plus_bounds,
    C_plus_ratio_bounds,
    eps_bounds,
    min_damping_ratio,
    conditional,
    efficiency,
    lo_phase_bounds,
    phase_tolerance=None,
) -> dict:
    """The array fields of :class:`Problem` from its arguments: each argument checked in its
    own terms (the messages quote it as given), defaults filled in, all broadcast to the one
    batch shape.  Concrete input is set up in numpy (nothing compiled; tiny ``jnp`` operations
    compile per batch shape) and moved to JAX arrays at the end; traced input (a Problem built
    inside jit/vmap) stays in ``jax.numpy``."""
    check_real(
        C_minus=C_minus,
        eps=eps,
        theta_plus_bounds=theta_plus_bounds,
        theta_minus_bounds=theta_minus_bounds,
        C_plus_bounds=C_plus_bounds,
        C_plus_ratio_bounds=C_plus_ratio_bounds,
        eps_bounds=eps_bounds,
        min_damping_ratio=min_damping_ratio,
        efficiency=efficiency,
        lo_phase_bounds=lo_phase_bounds,
        phase_tolerance=phase_tolerance,
    )
    eta, lpb = _measurement_leaves(efficiency, lo_phase_bounds)
    delta = _phase_tolerance_leaf(phase_tolerance)
    _check_batch_shapes(
        {
            **{f"thermal.{k}": getattr(thermal, k) for k in _THERMAL_FIELDS},
            "C_minus": C_minus,
            "eps": eps,
            "min_damping_ratio": min_damping_ratio,
            "efficiency": efficiency,
            "phase_tolerance": phase_tolerance,
        },
        {
            "theta_plus_bounds": theta_plus_bounds,
            "theta_minus_bounds": theta_minus_bounds,
            "C_plus_bounds": C_plus_bounds,
            "eps_bounds": eps_bounds,
            "lo_phase_bounds": lo_phase_bounds,
        },
    )
    concrete = is_concrete(thermal, C_minus, eps, phase_tolerance)
    if concrete:
        check_domain(
            C_minus=C_minus,
            eps=eps,
            gamma0_plus_hz=thermal.gamma0_plus_hz,
            gamma0_minus_hz=thermal.gamma0_minus_hz,
            nbar_plus=thermal.nbar_plus,
            nbar_minus=thermal.nbar_minus,
        )
    full = (0.0, _HALF_PI)
    tpb = _check_interval(
        "theta_plus_bounds", full if theta_plus_bounds is None else theta_plus_bounds, *full
    )
    tmb = _check_interval(
        "theta_minus_bounds", full if theta_minus_bounds is None else theta_minus_bounds, *full
    )
    if symmetric:
        _check_overlap(tpb, tmb)
    epb = _check_interval("eps_bounds", (0.0, 0.0) if eps_bounds is None else eps_bounds, 0.0, 1.0)
    if eps_bounds is not None and np.any(epb[..., 1] >= 1.0):
        raise ValueError(f"eps_bounds = {eps_bounds!r}: the upper end must be < 1")
    rho = np.asarray(min_damping_ratio, dtype=float)
    if np.any(~np.isfinite(rho) | (rho < 0) | (rho >= 1)):
        raise ValueError(f"min_damping_ratio = {min_damping_ratio!r} is outside the allowed range [0, 1)")
    xp = np if concrete else jnp
    C_minus = xp.asarray(C_minus)
    cpb = _c_plus_bounds(xp, C_minus, C_plus_bounds, C_plus_ratio_bounds)
    th = [xp.asarray(getattr(thermal, k)) for k in _THERMAL_FIELDS]
    eps = xp.asarray(eps)
    scalars = (*th, C_minus, eps, rho, eta) + (() if delta is None else (delta,))
    pairs = (tpb, tmb, cpb, epb, lpb)
    batch = jnp.broadcast_shapes(*(jnp.shape(x) for x in scalars), *(jnp.shape(x)[:-1] for x in pairs))

    def bc(x, pair=False):
        x = xp.broadcast_to(x, batch + ((2,) if pair else ()))
        # device_put, not jnp.asarray: the latter stages numpy input through a program that
        # is compiled for every new shape (measured ~0.05 s each, jax 0.10)
        return jax.device_put(np.array(x)) if concrete else jnp.asarray(x)

    return {
        "thermal": Thermal(*(bc(x) for x in th)),
        "C_minus": bc(C_minus),
        "eps": bc(eps),
        "theta_plus_bounds": bc(tpb, True),
        "theta_minus_bounds": bc(tmb, True),
        "C_plus_bounds": bc(cpb, True),
        "eps_bounds": bc(epb, True),
        "min_damping_ratio": bc(rho),
        "measurement": Measurement(bc(eta), bc(lpb, True)) if conditional else None,
        "phase_tolerance": None if delta is None else bc(delta),
    }


def _c_plus_bounds(xp, C_minus, C_plus_bounds, C_plus_ratio_bounds):
    """(low, high) of C_+ [dimensionless]: ``C_plus_bounds`` checked, or the ratio bounds
    times C_-."""
    if C_plus_bounds is None:
        r = np.asarray(C_plus_ratio_bounds, dtype=float)
        if r.shape != (2,) or not (0 < r[0] <= r[1] < np.inf):
            raise ValueError(
                f"C_plus_ratio_bounds = {C_plus_ratio_bounds!r} must be (low, high), 0 < low <= high"
            )
        return xp.stack([C_minus * r[0], C_minus * r[1]], -1)
    b = np.asarray(C_plus_bounds, dtype=float)
    if (
        b.shape[-1:] != (2,)
        or np.any(~(b[..., 0] > 0))
        or np.any(~(b[..., 0] <= b[..., 1]))
        or np.any(~np.isfinite(b))
    ):
        raise ValueError(f"C_plus_bounds = {C_plus_bounds!r} must be (low, high) with 0 < low <= high < inf")
    return xp.asarray(b)


def _infeasible_message(C_minus) -> str:
    return (
        "no dynamically stable design satisfies the bounds: the allowed theta interval(s) lie "
        "entirely in the unstable region (cos(2 theta) >= 1/(C (nbar + 1/2))) for "
        f"C_minus = {np.asarray(C_minus)!r}; widen theta_*_bounds or lower C_plus_bounds"
    )


def _stable_design_exists(
    nbar_plus, nbar_minus, C_minus, C_plus_low, theta_plus_bounds, theta_minus_bounds, rho, coupling
):
    """Per problem: some design within the bounds is strictly stable (damping ratios above
    ``rho``).  The most permissive C_+ for the server's stability is its lower bound.  numpy in,
    numpy out; JAX arrays in, ``jax.numpy`` (:func:`steerjax._validation.array_namespace`)."""
    iv_m = _interval(C_minus, nbar_minus, theta_minus_bounds, rho)
    iv_p = _interval(C_plus_low, nbar_plus, theta_plus_bounds, rho)
    if coupling == "symmetric":
        xp = array_namespace(iv_m.c_lo, iv_p.c_lo)
        lo = xp.maximum(iv_m.c_lo, iv_p.c_lo)
        return (lo <= xp.minimum(iv_m.c_hi, iv_p.c_hi)) & (lo < xp.minimum(iv_m.c_max, iv_p.c_max))
    return iv_m.feasible & iv_p.feasible


def _interval(C, nbar, bounds, min_damping_ratio) -> AngleInterval:
    """Angle interval with an optional margin from the stability edge (numpy or ``jax.numpy``
    as :func:`~steerjax.optim._reparam.angle_interval`)."""
    xp = array_namespace(C, nbar, bounds, min_damping_ratio)
    iv = angle_interval(C, nbar, bounds)
    edge = stability_edge(C, nbar, min_damping_ratio)  # one call: see its docstring
    has_limit = edge.q < 1.0
    c_max = xp.where(has_limit, xp.sqrt(xp.minimum(edge.q, 1.0)), 1.0)
    excess = xp.where(has_limit, edge.q_edge * min_damping_ratio, 0.5 * (1.0 / edge.y - 1.0))
    c_hi = xp.minimum(xp.cos(bounds[..., 0]), c_max)
    return AngleInterval(c_lo=iv.c_lo, c_hi=c_hi, c_max=c_max, excess=excess)
