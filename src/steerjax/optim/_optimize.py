"""Differentiable design optimisation: optimal steering over the tunable parameters (Sec. V, App. A).

A :class:`Problem` states what is minimised and over what.  The paper's client/server scenario
is the default: the client's cooperativity ``C_-`` is fixed (a "cheap" node of limited
tunability), the server's ``C_+`` and both interaction angles are free, and the loss ``eps`` is
given.  The search runs in an unconstrained space (:mod:`steerjax.optim._reparam`): every point of it
is a dynamically stable design, so no optimiser step can produce an unstable design or a NaN.

Solvers are small option objects: :class:`ProjectedNewton` (the default; exact Hessian, box
constraints) and the optax-based :class:`LBFGS` and :class:`Adam`; each local search is a
``lax.while_loop`` (or ``lax.scan``); multi-start is a ``vmap`` over starting points and a batch of
problems is a ``vmap`` over problems, all compiled once.

The optimum of the asymmetric scheme is an *infimum* at the client's stability edge
``gamma_- -> 0+``.  The returned design is a real, strictly stable design (damping ratio
``~1e-12`` there) whose E is within rounding of that infimum, and ``at_stability_edge`` says so.

Conditional mode (``Problem(..., conditional=True)``; Sec. VI and Appendix B): the joint output
light is also measured (homodyne, local-oscillator phase ``lo_phase``, efficiency ``efficiency``)
and the objective is the conditional E of :func:`steerjax.model.conditional_steering_from_rates`
(Kalman-Bucy filter, a Riccati solve per evaluation).  The local-oscillator phase becomes one more
search coordinate, the last one, within ``lo_phase_bounds`` (default ``[0, pi]``: the detected
currents only change sign when the phase moves by pi).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from ..model._checks import check_count
from ..model._rates import thermal_in_rate_units
from ._constrained import _without_bound, optimize_with_other_bound
from ._coordinates import loss
from ._options import ExecutionOptions, SearchOptions, resolve_options
from ._problem import Problem
from ._result import OptimumResult
from ._search import (
    _best_of_starts,
    _default_starts,
    _flatten,
    _solve_on_devices,
    default_block_size,
    default_lanes,
)
from ._solvers import AbstractMinimiser

CONDITIONAL_WARM_PHASES = (0.0, math.pi / 4)
"""Local-oscillator phases [rad] at which the default starts of a conditional problem
warm-start from the unconditional optimum (mapped into ``lo_phase_bounds`` modulo pi, as
:func:`w_from_design` does)."""


def conditional_warm_starts(problem: Problem, w_design: Array, lo_phases=CONDITIONAL_WARM_PHASES) -> Array:
    """Starts of a conditional problem from box coordinates ``w_design`` of its design variables
    (e.g. ``result.w`` of the unconditional twin problem), one per phase of ``lo_phases`` [rad].

    Returns shape ``w_design.shape[:-1] + (len(lo_phases), problem.n_variables)``.
    """
    low, high = problem.lo_phase_bounds[..., 0], problem.lo_phase_bounds[..., 1]
    span = jnp.where(high > low, high - low, 1.0)
    starts = [
        jnp.concatenate([w_design, jnp.clip(jnp.mod(psi - low, math.pi) / span, 0.0, 1.0)[..., None]], -1)
        for psi in lo_phases
    ]
    return jnp.stack(starts, axis=-2)


def _unconditional_twin(problem: Problem) -> Problem:
    """The same problem without its measurement (``conditional`` False; same bounds, same
    design coordinates)."""
    return eqx.tree_at(lambda p: p.measurement, problem, None, is_leaf=lambda x: x is None)


def _conditional_starts(problem: Problem, n_starts, seed, dtype, solver, devices, block_size, lanes) -> Array:
    """Default starts of a conditional problem, one set per problem (shape ``(n, 2, k)``): the
    unconditional optimum (found with ``n_starts`` starts) at each phase of
    :data:`CONDITIONAL_WARM_PHASES`.

    No cold starts, on purpose.  Where the detected quadrature barely sees the slow client mode
    (phase near pi/2 at the stability edge) the float64 Riccati solution carries errors of
    ~1e-4 relative, and a cold start can settle in such a numerical dip: measured at
    C_- = 1000 (hot set), a cold start reported 0.03158271 during the search, 0.03158998 when
    its design was re-evaluated, while the warm start from the unconditional optimum at phase 0
    gave 0.03158331, which the 50-digit check confirms.  A local search from the warm starts
    never ends above its start, so E_c* <= E_c(unconditional optimum) always holds.
    """
    twin = _unconditional_twin(problem)
    twin_starts = _default_starts(twin, n_starts, seed, dtype)
    base = _solve_on_devices(_flatten(twin), None, twin_starts, solver, devices, block_size, None, lanes)
    return conditional_warm_starts(_flatten(problem), base.w).astype(dtype)


def _check_not_empty(problem: Problem) -> None:
    """ValueError for a problem batch without any problem (a zero-length batch axis)."""
    batch = problem.batch_shape
    if math.prod(batch) == 0:
        raise ValueError(
            f"C_minus: the batch is empty (batch shape {batch}: C_minus broadcast with eps, the "
            "thermal parameters and the bounds); give at least one problem"
        )


def optimize(
    problem: Problem,
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
    *,
    starts: Array | None = None,
    solver: AbstractMinimiser | None = None,
    n_starts: int | None = None,
    seed: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    block_size: int | None = None,
    lanes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OptimumResult:
    """Minimise the problem's objective over its free parameters (Sec. V; Figs. 4-7).

    Every start is a local search (``search.solver``) over the box coordinates of
    :func:`rates_from_w` (every point of which is a strictly stable design); the best start
    wins.  Problems run in compiled blocks of ``execution.block_size``, spread over
    ``execution.devices``; in a block, ``execution.lanes`` searches advance together
    (``vmap``) and a finished one hands its lane to the next search in the queue.  The same
    seed gives the same result, bit for bit, on any number of devices.

    Args:
        problem: a :class:`Problem` or a batch of them.
        search: :class:`SearchOptions` (solver, n_starts, seed); default ``SearchOptions()``:
            :class:`ProjectedNewton`, 8 starts, seed 0.  For a conditional problem the search
            starts from the unconditional optimum (itself found with ``n_starts`` starts) at
            each phase of :data:`CONDITIONAL_WARM_PHASES` (see ``_conditional_starts`` for why).
        execution: :class:`ExecutionOptions` (devices, block_size, lanes, progress); default
            all of ``jax.devices()`` (the batch axis of the result is then sharded over them
            with ``jax.sharding``), :func:`default_block_size` problems per block (results
            depend on it only at the rounding level), :func:`default_lanes` lanes, no progress.
        starts: optional explicit starting points in box coordinates ``[0, 1]^n``, shape
            ``(n_starts, problem.n_variables)`` (the same for every problem), or
            ``problem.batch_shape + (n_starts, problem.n_variables)`` (a set per problem, e.g.
            ``result.w[..., None, :]`` to warm-start every problem from an earlier result).
        solver, n_starts, seed: shortcuts: each one given (not ``None``) replaces that field
            of ``search``.
        devices, block_size, lanes, progress: shortcuts for the fields of ``execution``.

    Returns:
        :class:`OptimumResult` with the problem's batch shape.

    Examples:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> res = sj.optimize(sj.Problem(sj.HOT, C_minus=10.0))
        >>> round(float(res.value), 6), bool(res.at_stability_edge)
        (0.285043, True)
        >>> same = sj.optimize(sj.Problem(sj.HOT, C_minus=10.0), sj.SearchOptions(n_starts=8))
        >>> bool(same.value == res.value)
        True
    """
    search, execution = resolve_options(
        search,
        execution,
        solver=solver,
        n_starts=n_starts,
        seed=seed,
        devices=devices,
        block_size=block_size,
        lanes=lanes,
        progress=progress,
    )
    if problem.other_E is not None:
        _check_not_empty(problem)
        result = _optimize_with_other_bound(problem, search, execution, starts)
        if execution.progress is not None:
            n = math.prod(problem.batch_shape)
            execution.progress(n, n)
        return result
    return _optimize_resolved(problem, search, execution, starts)


def _optimize_with_other_bound(problem, search, execution, starts, anchors=None) -> OptimumResult:
    """:func:`optimize` for a problem with ``max_other_E`` / ``min_other_E``
    (:func:`steerjax.optim._constrained.optimize_with_other_bound`); explicit ``starts`` are
    used for the unconstrained optimum of the chosen direction."""
    inner = execution.replace(progress=None)
    first = [starts]

    def solve(p, s):
        if s is None:
            s, first[0] = first[0], None
        return _optimize_resolved(p, search, inner, s)

    def default_starts(p):
        return _default_starts(
            p, int(search.n_starts), int(search.seed), jnp.result_type(p.C_minus.dtype, jnp.float32)
        )

    def evaluate(p, w):
        scaled, unit = _problem_in_rate_units(p)
        return _result_rates_in_hz(_evaluate_rows(scaled, jnp.asarray(w), search.solver), unit)

    return optimize_with_other_bound(problem, solve, default_starts, evaluate, anchors)


@eqx.filter_jit
def _evaluate_rows(problem: Problem, w: Array, solver) -> OptimumResult:
    """The result of each row of ``problem`` at its box coordinates ``w`` (no search).  For
    rows with a bound on the other direction's E, ``converged`` and ``grad_norm`` test the KKT
    stationarity P(grad E + lambda grad g) with the rows' multipliers (evaluate them with a
    negligible penalty: the augmented term's gradient is then lambda grad g)."""

    def one(p, z):
        f = loss(_without_bound(p), z)
        return _best_of_starts(p, z[None], f[None], jnp.zeros((1,), jnp.int32), solver)

    return jax.vmap(one)(problem, w)


def _optimize_resolved(
    problem: Problem, search: SearchOptions, execution: ExecutionOptions, starts
) -> OptimumResult:
    """:func:`optimize` after its options are resolved (no bound on the other direction's E,
    or the rows of the constrained search with their multipliers)."""
    solver, seed, progress, lanes = search.solver, int(search.seed), execution.progress, execution.lanes
    n_starts = check_count("n_starts", search.n_starts, 1)
    _check_not_empty(problem)
    dtype = jnp.result_type(problem.C_minus.dtype, jnp.float32)
    devices = jax.devices() if execution.devices is None else execution.devices
    devices = sorted(devices, key=lambda d: (d.process_index, d.id))
    # The unconditional search behind a conditional problem's starts uses the unconditional
    # default, so it shares its compiled program with plain problems (e.g. Fig. 4 and Fig. 8).
    block_size = execution.block_size
    twin_block_size = default_block_size(devices[0]) if block_size is None else int(block_size)
    if block_size is None:
        block_size = default_block_size(devices[0], conditional=problem.conditional)
    block_size = check_count("block_size", block_size, 1)
    lanes = default_lanes(devices[0]) if lanes is None else check_count("lanes", lanes, 1)
    problem, unit = _problem_in_rate_units(problem)
    if starts is None and problem.conditional:
        starts = _conditional_starts(
            problem, int(n_starts), seed, dtype, solver, devices, twin_block_size, lanes
        )
    elif starts is None:
        starts = _default_starts(problem, int(n_starts), seed, dtype)
    else:
        starts = _checked_starts(problem, starts, dtype)
    batch = problem.batch_shape
    # The objective is shared by every problem of the batch: it stays out of the batching
    # (flattening, padding, slicing by rows) and enters each compiled block as an argument, so
    # that a pytree objective with new array values reuses the compiled block.
    objective = problem.objective
    rows = _flatten(eqx.tree_at(lambda p: p.objective, problem, None, is_leaf=lambda x: x is None))
    result = _solve_on_devices(rows, objective, starts, solver, devices, block_size, progress, lanes, batch)
    return _result_rates_in_hz(result, unit)


def _checked_starts(problem: Problem, starts, dtype) -> Array:
    """Explicit starts as ``(n_starts, n)`` or ``(n_problems, n_starts, n)`` (ValueError for a
    wrong shape or a point outside the box [0, 1]^n)."""
    starts = jnp.asarray(starts, dtype=dtype)
    if starts.ndim >= 2 and starts.shape[-2] == 0:
        raise ValueError(f"starts: need at least one start, got shape {starts.shape}")
    batch = problem.batch_shape
    shared = starts.ndim == 2 and starts.shape[1] == problem.n_variables
    own = starts.ndim == len(batch) + 2 and starts.shape[: len(batch)] == batch
    own = own and starts.shape[-1] == problem.n_variables and len(batch) > 0
    if not (shared or own):
        raise ValueError(
            f"starts has shape {starts.shape}; expected (n_starts, {problem.n_variables}) or "
            f"{(*batch, 'n_starts', problem.n_variables)} (a set per problem)"
        )
    if own:
        starts = jnp.reshape(starts, (-1, *starts.shape[-2:]))
    if not bool(jnp.all((starts >= 0) & (starts <= 1))):
        raise ValueError("starts must lie in the box [0, 1]^n (box coordinates of rates_from_w)")
    return starts


def _problem_in_rate_units(problem: Problem) -> tuple[Problem, Array | None]:
    """The problem with its thermal rates in units of :func:`steerjax.model._rates.rate_unit` (exact: a
    power of two; the optimum does not depend on the unit, but products of rates then stay in
    range for any positive rates), and the unit.  A problem with a user ``objective`` is left
    in Hz (unit None): the objective may read rates."""
    if problem.objective is not None:
        return problem, None
    scaled, unit = thermal_in_rate_units(problem.thermal)
    problem = eqx.tree_at(lambda p: p.thermal, problem, scaled)
    if problem.min_damping_hz is not None:  # a rate too: same unit
        problem = eqx.tree_at(lambda p: p.min_damping_hz, problem, problem.min_damping_hz / unit)
    if problem.omega_hz is not None:  # a rate too
        problem = eqx.tree_at(lambda p: p.omega_hz, problem, problem.omega_hz / unit)
    return problem, unit


def _result_rates_in_hz(result: OptimumResult, unit: Array | None) -> OptimumResult:
    """The rate fields of a result computed in units of ``unit`` Hz, back in Hz."""
    if unit is None:
        return result
    return eqx.tree_at(
        lambda r: (r.gamma_plus_hz, r.gamma_minus_hz),
        result,
        (result.gamma_plus_hz * unit, result.gamma_minus_hz * unit),
    )
