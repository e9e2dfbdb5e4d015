"""Sweeps of the optimum over the client's cooperativity, and the loss tolerance (Sec. V).

:func:`optimal_sweep` solves one :class:`~steerjax.Problem` per value of ``C_-`` (and of any other
broadcast parameter) in one compiled, vmapped and device-sharded call, and returns an
:class:`OptimalSweep` -- a pytree holding the problem batch and the optima, with a flat table
view (:meth:`OptimalSweep.table`) and atomic CSV / NPZ export.  These are the data of Figs. 4, 6
and 7.

:func:`loss_tolerance` finds ``eps_max(C_-)``, the largest transmission loss for which the
*optimised* E stays below 1/2 (Fig. 5 and Sec. V), by bisection on the optimised value,
vmapped over ``C_-``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._io import atomic_write_bytes, write_csv
from .._validation import parse_direction
from ..model._params import Thermal
from ..model._steering import STEERING_BOUND
from ._optimize import optimize
from ._options import ExecutionOptions, SearchOptions
from ._problem import COUPLINGS, Problem
from ._result import OptimumResult

__all__ = ["OptimalSweep", "optimal_sweep", "log_grid", "LossTolerance", "loss_tolerance"]

_NOT_IN_TABLE = frozenset(
    ("damping_ratio_plus", "damping_ratio_minus", "lo_phase", "E_u_plus_given_minus", "E_u_minus_given_plus")
)
"""Columns of :meth:`OptimumResult.columns` that an :class:`OptimalSweep` table leaves out (the
sweeps are unconditional; the damping ratios follow from the table's rates)."""


def _check_C_minus_not_empty(C_minus) -> None:
    """ValueError, before anything is compiled, for an empty grid of C_-."""
    if np.size(C_minus) == 0:
        raise ValueError(
            f"C_minus: the batch is empty (shape {np.shape(C_minus)}); give at least one cooperativity"
        )


def log_grid(start: float, stop: float, num: int) -> np.ndarray:
    """``num`` log-spaced values from ``start`` to ``stop`` inclusive (both > 0).

    Examples:
        >>> log_grid(1, 1000, 4).tolist()
        [1.0, 10.0, 100.0, 1000.0]
    """
    start, stop, num = float(start), float(stop), int(num)
    if not (start > 0 and stop > 0 and math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"log_grid: start = {start!r} and stop = {stop!r} must be finite and > 0")
    if num < 1:
        raise ValueError(f"log_grid: num = {num!r} is outside the allowed range [1, inf)")
    if num == 1:
        if start != stop:
            raise ValueError(f"log_grid: num = 1 needs start == stop; got start = {start!r}, stop = {stop!r}")
        return np.array([start])
    out = np.logspace(math.log10(start), math.log10(stop), num)
    out[0], out[-1] = start, stop  # exact ends
    return out


class OptimalSweep(eqx.Module):
    """Optima over a batch of problems (usually a grid of ``C_-``).

    Attributes:
        problem: the :class:`~steerjax.Problem` batch (thermal set, ``C_-``, ``eps``, bounds).
        result: the :class:`~steerjax.OptimumResult` of the same batch shape.

    The table view flattens both into named 1-D columns: ``C_minus, eps, gamma0_plus_hz,
    nbar_plus, gamma0_minus_hz, nbar_minus, coupling, direction`` (the job), then ``E``
    (the minimised objective), ``E_plus_given_minus, E_minus_given_plus, theta_plus,
    theta_minus`` [rad], ``C_plus, C_plus_over_C_minus, gamma_plus_hz, gamma_minus_hz``
    [gamma/2pi in Hz], ``converged, at_stability_edge, grad_norm, steps``.
    """

    problem: Problem
    result: OptimumResult

    @property
    def C_minus(self) -> Array:
        return self.problem.C_minus

    @property
    def E(self) -> Array:
        """The minimised objective (E of the problem's direction by default)."""
        return self.result.value

    def table(self) -> dict[str, np.ndarray]:
        """Flat columns (name -> 1-D numpy array), in the order documented on the class."""
        p, r = self.problem, self.result
        optima = r.columns()
        n = optima["E"].size

        def col(x):
            return np.broadcast_to(np.asarray(x), np.shape(r.value)).reshape(n)

        job = {
            "C_minus": col(p.C_minus),
            "eps": col(r.design.eps),
            "gamma0_plus_hz": col(p.thermal.gamma0_plus_hz),
            "nbar_plus": col(p.thermal.nbar_plus),
            "gamma0_minus_hz": col(p.thermal.gamma0_minus_hz),
            "nbar_minus": col(p.thermal.nbar_minus),
            "coupling": np.full(n, p.coupling, dtype=object),
            "direction": np.full(n, p.direction if p.objective is None else "custom", dtype=object),
        }
        return job | {name: column for name, column in optima.items() if name not in _NOT_IN_TABLE}

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`table` as CSV (full float64 precision; written whole or not at all)."""
        return write_csv(path, self.table())

    def to_npz(self, path: str | Path) -> Path:
        """Write :meth:`table` as a NumPy ``.npz`` archive (atomically); text columns as str."""
        import io

        buf = io.BytesIO()
        cols = {k: (v.astype(str) if v.dtype == object else v) for k, v in self.table().items()}
        np.savez(buf, **cols)
        return atomic_write_bytes(path, buf.getvalue())


def optimal_sweep(
    thermal: Thermal,
    C_minus,
    *,
    eps=0.0,
    coupling: str = "asymmetric",
    direction: str = "plus-given-minus",
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
    **problem_options,
) -> OptimalSweep:
    """Optimal steering for every ``C_-`` of a grid (Figs. 4, 6, 7).

    Args:
        thermal: thermal parameters (e.g. ``steerjax.thermal_preset("hot")``).
        C_minus: client cooperativities (any shape; broadcast against ``eps`` and the thermal
            leaves).
        eps: transmission loss(es) in [0, 1).
        coupling: ``"asymmetric"`` or ``"symmetric"``.
        direction: ``"plus-given-minus"`` (E_{+|-}) or ``"minus-given-plus"`` (E_{-|+}).
        search: :class:`~steerjax.SearchOptions` (solver, n_starts, seed) of
            :func:`~steerjax.optimize`; default ``SearchOptions()``.
        execution: :class:`~steerjax.ExecutionOptions` (devices, block_size, lanes,
            progress) of :func:`~steerjax.optimize`; by default the batch is sharded over all
            devices.
        **problem_options: further :class:`~steerjax.Problem` keywords (angle or C_+ bounds,
            ``objective``, ``eps_bounds``, ``min_damping_ratio``).

    Returns:
        :class:`OptimalSweep`.

    Examples:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> sweep = sj.optimal_sweep(sj.thermal_preset("hot"), [2.0, 10.0])
        >>> [round(float(e), 4) for e in sweep.E]
        [0.4677, 0.285]
        >>> few = sj.optimal_sweep(sj.thermal_preset("hot"), [10.0], search=sj.SearchOptions(n_starts=3))
        >>> round(float(few.E[0]), 4)
        0.285
    """
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling = {coupling!r} is not allowed; use one of {COUPLINGS}")
    _check_C_minus_not_empty(C_minus)
    problem = Problem(thermal, C_minus, eps=eps, coupling=coupling, direction=direction, **problem_options)
    return OptimalSweep(problem=problem, result=optimize(problem, search, execution))


class LossTolerance(eqx.Module):
    """Result of :func:`loss_tolerance` (shape of ``C_minus`` on every field).

    Attributes:
        C_minus: client cooperativities.
        eps_max: the largest loss with optimised E < 1/2, to within ``eps_tol`` (the lower end
            of the final bracket, so steering is certified at ``eps_max``).  ``1.0`` where
            steering survives every tested loss up to ``eps_ceiling`` (then the supremum is
            1); NaN where there is no steering even at ``eps = 0``.
        E_at_zero_loss: the optimised E at ``eps = 0``.
        E_at_eps_max: the optimised E at ``eps_max`` (< 1/2 where eps_max is a number < 1).
        steers_for_all_eps: True where steering survives up to ``eps_ceiling``.
    """

    C_minus: Array
    eps_max: Array
    E_at_zero_loss: Array
    E_at_eps_max: Array
    steers_for_all_eps: Array


def loss_tolerance(
    thermal: Thermal,
    C_minus,
    *,
    coupling: str = "asymmetric",
    direction: str = "plus-given-minus",
    eps_tol: float = 1e-6,
    eps_ceiling: float = 1.0 - 1e-6,
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    **problem_options,
) -> LossTolerance:
    """Loss tolerance ``eps_max(C_-)``: the largest eps with optimised E < 1/2 (Fig. 5).

    For each ``C_-`` the optimum over the free parameters is recomputed at every bisection
    point (all ``C_-`` at once in one compiled call), so the bracket is on the *optimised*
    value.  The optimised E grows with eps (loss only removes correlations), so the set of
    steering losses is an interval ``[0, eps_max)``; bisection keeps ``E(lo) < 1/2 <= E(hi)``
    until ``hi - lo <= eps_tol``.

    Args:
        thermal: thermal parameters.
        C_minus: client cooperativities (1-D or scalar).
        coupling, direction: as for :class:`~steerjax.Problem`.
        eps_tol: width of the final bracket (> 0).
        eps_ceiling: the largest loss tested (< 1); steering there counts as "all eps < 1".
        search: :class:`~steerjax.SearchOptions` of every optimisation; default
            ``SearchOptions(n_starts=6)``.
        execution: :class:`~steerjax.ExecutionOptions` of every optimisation (its
            ``progress``, if any, is called by each of them).
        progress: optional callback ``progress(done, total)`` over bisection steps.
        **problem_options: further :class:`~steerjax.Problem` keywords, e.g.
            ``C_plus_ratio_bounds=(1e-3, 1e7)``: eps_max of the hot set is limited by the C_+
            search bound (0.49900, 0.89988, 0.98999 at C_- = 2, 10, 100 with the default
            ``(1e-3, 1e3)``; 0.500004, 0.8999997, 0.9899997 with ``(1e-3, 1e7)``).

    Examples:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> tol = sj.loss_tolerance(sj.thermal_preset("hot"), [2.0, 10.0], eps_tol=1e-4)
        >>> [round(float(e), 2) for e in tol.eps_max]
        [0.5, 0.9]
    """
    _check_C_minus_not_empty(C_minus)
    if not (0.0 < float(eps_tol) < 1.0):
        raise ValueError(f"eps_tol = {eps_tol!r} is outside the allowed range (0, 1)")
    if not (0.0 < float(eps_ceiling) < 1.0):
        raise ValueError(f"eps_ceiling = {eps_ceiling!r} is outside the allowed range (0, 1)")
    if "eps" in problem_options or "eps_bounds" in problem_options:
        raise ValueError("loss_tolerance chooses eps itself; do not pass eps or eps_bounds")
    direction = parse_direction(direction)
    search = SearchOptions(n_starts=6) if search is None else search
    C = jnp.atleast_1d(jnp.asarray(C_minus))
    n_bisect = max(1, math.ceil(math.log2(float(eps_ceiling) / float(eps_tol))))
    total = n_bisect + 2

    def optimum(eps):
        problem = Problem(thermal, C, eps=eps, coupling=coupling, direction=direction, **problem_options)
        return optimize(problem, search, execution).value

    zero = jnp.zeros_like(C)
    E0 = optimum(zero)
    ceiling = jnp.full_like(C, eps_ceiling)
    E_top = optimum(ceiling)
    if progress is not None:
        progress(2, total)
    lo, hi = zero, ceiling
    E_lo = E0
    for k in range(n_bisect):
        mid = 0.5 * (lo + hi)
        E_mid = optimum(mid)
        below = E_mid < STEERING_BOUND
        lo = jnp.where(below, mid, lo)
        E_lo = jnp.where(below, E_mid, E_lo)
        hi = jnp.where(below, hi, mid)
        if progress is not None:
            progress(3 + k, total)
    steers_at_zero = E0 < STEERING_BOUND
    all_eps = E_top < STEERING_BOUND
    eps_max = jnp.where(all_eps, 1.0, jnp.where(steers_at_zero, lo, jnp.nan))
    E_at = jnp.where(all_eps, E_top, jnp.where(steers_at_zero, E_lo, jnp.nan))
    shape = np.shape(np.asarray(C_minus))
    return LossTolerance(
        C_minus=jnp.reshape(C, shape),
        eps_max=jnp.reshape(eps_max, shape),
        E_at_zero_loss=jnp.reshape(E0, shape),
        E_at_eps_max=jnp.reshape(E_at, shape),
        steers_for_all_eps=jnp.reshape(all_eps, shape),
    )
