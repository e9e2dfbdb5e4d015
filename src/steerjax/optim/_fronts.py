"""The trade-off between the two steering directions (issue 12): the Pareto front of
(E_{+|-}, E_{-|+}) and the asymmetry front of one-way steering.

Pareto front: the designs for which neither direction's E can be lowered without raising the
other's.  Its ends are the two single-direction optima: U (smallest E_{+|-}, at which E_{-|+}
is a_o) and O (smallest E_{-|+} = B*, at which E_{+|-} is b_o).  In between, each point is the
constrained optimum min E_{+|-} subject to E_{-|+} <= t for t from a_o down to B*
(the epsilon-constraint method), so the front is traced from U to O.

Asymmetry front: for one-way steering (client => server while the server provably cannot steer
the client, E_{-|+} >= 1/2), the smallest E_{+|-} subject to E_{-|+} >= s, for s from 1/2 up to
``asymmetry_max``.  In the (E_{+|-}, E_{-|+}) plane it is the boundary of the reachable region
in the order (smaller E_{+|-}, larger E_{-|+}).

Both fronts are one batch of constrained problems (:func:`steerjax.optimize` with
``max_other_E`` / ``min_other_E``), solved with the two single-direction optima computed once.
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
from jax import Array

from ..model._checks import check_count
from ..model._params import Design, Thermal
from ._constrained import with_direction
from ._optimize import _optimize_with_other_bound, optimize
from ._options import ExecutionOptions, SearchOptions, resolve_options
from ._problem import Problem
from ._result import OptimumResult

FRONT_KINDS = ("pareto", "asymmetry")


class Front(eqx.Module):
    """One front: points ordered along it (1-D arrays of equal length).

    Attributes:
        E_plus_given_minus, E_minus_given_plus: both steering parameters at each design.
        design: the designs (a :class:`Design` with a leading axis): theta_+, theta_- [rad],
            C_+ [dimensionless]; C_-, eps as given.
        bound: the bound on E_{-|+} of each point's constrained problem (upper for the Pareto
            front, lower for the asymmetry front; at the Pareto front's ends the values of
            E_{-|+} at the two single-direction optima).
        kind: ``"pareto"`` or ``"asymmetry"`` (static).
    """

    E_plus_given_minus: Array
    E_minus_given_plus: Array
    design: Design
    bound: Array
    kind: str = eqx.field(static=True)


class Fronts(eqx.Module):
    """Result of :func:`pareto_front`: the two fronts and the single-direction optima.

    Attributes:
        pareto: the Pareto front, from the optimum of E_{+|-} to that of E_{-|+}.
        asymmetry: the asymmetry front, E_{-|+} >= s for s from 1/2 up.
        plus_optimum, minus_optimum: :class:`OptimumResult` of E_{+|-} alone and of E_{-|+}
            alone (the Pareto front's end points).
    """

    pareto: Front
    asymmetry: Front
    plus_optimum: OptimumResult
    minus_optimum: OptimumResult

    def columns(self) -> dict[str, np.ndarray]:
        """Both fronts as flat columns (Pareto first): ``E_plus_given_minus,
        E_minus_given_plus, theta_plus, theta_minus`` [rad], ``C_plus`` and ``front``
        (``"pareto"`` or ``"asymmetry"``)."""
        cols: dict[str, list] = {k: [] for k in COLUMNS}
        for f in (self.pareto, self.asymmetry):
            cols["E_plus_given_minus"].append(np.asarray(f.E_plus_given_minus))
            cols["E_minus_given_plus"].append(np.asarray(f.E_minus_given_plus))
            cols["theta_plus"].append(np.asarray(f.design.theta_plus))
            cols["theta_minus"].append(np.asarray(f.design.theta_minus))
            cols["C_plus"].append(np.asarray(f.design.C_plus))
            cols["front"].append(np.full(np.shape(f.bound), f.kind))
        return {k: np.concatenate(v) for k, v in cols.items()}


COLUMNS = ("E_plus_given_minus", "E_minus_given_plus", "theta_plus", "theta_minus", "C_plus", "front")
"""Columns of :meth:`Fronts.columns` (and of ``steerjax pareto``)."""


def pareto_front(
    thermal: Thermal,
    C_minus,
    eps=0.0,
    n_points: int = 41,
    *,
    asymmetry_max: float = 100.0,
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
    **problem_options,
) -> Fronts:
    """The Pareto front of (E_{+|-}, E_{-|+}) and the asymmetry front (module docstring).

    Args:
        thermal: thermal parameters (scalars).
        C_minus: the client's cooperativity (scalar, > 0).
        eps: transmission loss in [0, 1).
        n_points: points per front, >= 2 (the Pareto front's ends are the single-direction
            optima; its bounds t are equally spaced in E_{-|+} between them).
        asymmetry_max: largest required E_{-|+} of the asymmetry front (> 1/2); the bounds s
            are spaced geometrically from 1/2 to it.  E_{+|-} tends to 1/2 as s grows.
        search, execution: as for :func:`steerjax.optimize`.
        problem_options: further :class:`Problem` options (bounds, coupling, ...).

    Returns:
        :class:`Fronts`.  Points dominated by another point of the same front (a repeated
        single-direction optimum, where a bound is inactive) are left out, so a front may have
        fewer than ``n_points`` points.

    Example (not run by the doctests, to spare a compilation; ``tests/test_fronts.py`` runs it):
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> f = sj.pareto_front(sj.HOT, 10.0, n_points=5)  # doctest: +SKIP
        >>> ends = f.pareto.E_plus_given_minus[0], f.pareto.E_minus_given_plus[-1]  # doctest: +SKIP
        >>> [round(float(e), 6) for e in ends]  # doctest: +SKIP
        [0.285043, 0.312249]
    """
    n_points = check_count("n_points", n_points, 2)
    a_max = float(asymmetry_max)
    if not (np.isfinite(a_max) and a_max > 0.5):
        raise ValueError(f"asymmetry_max = {asymmetry_max!r} is outside the allowed range (0.5, inf)")
    search, execution = resolve_options(search, execution)
    base = Problem(thermal, C_minus, eps=eps, direction="plus-given-minus", **problem_options)
    if base.batch_shape != ():
        raise ValueError(
            f"pareto_front takes one problem: C_minus, eps and the thermal parameters must be "
            f"scalars (batch shape {base.batch_shape})"
        )
    U = optimize(base, search, execution)
    O = optimize(with_direction(base, "minus-given-plus"), search, execution)
    t = np.linspace(float(U.E_other), float(O.value), n_points)
    s = np.geomspace(0.5, a_max, n_points)
    bounds = np.concatenate([t, s])
    problem = Problem(thermal, C_minus, eps=eps, max_other_E=bounds, **problem_options)
    sign = np.concatenate([np.ones(n_points), -np.ones(n_points)])
    problem = eqx.tree_at(lambda p: p.other_E.sign, problem, jax.device_put(sign))
    anchors = tuple(
        jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x)[None], 2 * n_points, 0), r) for r in (U, O)
    )
    res = _optimize_with_other_bound(problem, search, execution, None, anchors)
    pareto = _front(res, bounds, slice(0, n_points), "pareto")
    asym = _front(res, bounds, slice(n_points, 2 * n_points), "asymmetry")
    return Fronts(pareto=pareto, asymmetry=asym, plus_optimum=U, minus_optimum=O)


def _front(res: OptimumResult, bounds: np.ndarray, rows: slice, kind: str) -> Front:
    """The points ``rows`` of ``res`` as a :class:`Front`, dominated points left out."""
    x = np.asarray(res.E_plus_given_minus)[rows]
    y = np.asarray(res.E_minus_given_plus)[rows]
    keep = non_dominated(x, y if kind == "pareto" else -y)
    pick = np.arange(bounds.size)[rows][keep]
    design = jax.tree_util.tree_map(lambda a: np.asarray(a)[pick], res.design)
    return Front(
        E_plus_given_minus=x[keep], E_minus_given_plus=y[keep], design=design, bound=bounds[pick], kind=kind
    )


def non_dominated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points not dominated (both coordinates minimised) by another point, keeping
    the first of equal points."""
    n = x.size
    keep = np.ones(n, bool)
    for i in range(n):
        worse = (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        same = (x == x[i]) & (y == y[i]) & (np.arange(n) < i)
        keep[i] = not (worse.any() or same.any())
    return keep
