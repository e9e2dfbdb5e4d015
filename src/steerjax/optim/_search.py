"""Multi-start search: starting points, blocks of problems, the search pool and devices."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import (
    select_direction,
)
from ..model._conditional import conditional_steering_from_rates
from ..model._rates import cascade_rates
from ..model._steering import SteeringResult, steering_result_from_rates
from ._compiler_options import BLOCK_COMPILER_OPTIONS
from ._constraint import other_direction
from ._coordinates import lo_phase_from_w, loss, rates_from_w, worst_case
from ._model_choice import steering_in_model
from ._problem import EDGE_DAMPING_RATIO, Problem
from ._program_store import stored_call
from ._result import OptimumResult
from ._solvers import _first_order_optimal, _projected_gradient


def _default_starts(problem: Problem, n_starts: int, seed: int, dtype) -> Array:
    """Deterministic starting points: a few structured guesses, then seeded random ones.

    Structured guesses in box coordinates (0.5 is mid-interval, and C_+ = C_- for the default
    bounds): all mid-interval; the client close to its stability edge (the paper's optimum);
    additionally the server well on the cooling side.  Random starts are uniform in the box.
    """
    n_vars = problem.n_variables
    base = np.full(n_vars, 0.5)
    guesses = [base]
    if problem.coupling == "asymmetric":
        edge = base.copy()
        edge[1] = 1e-3
        cool = edge.copy()
        cool[0] = 0.9
        guesses += [edge, cool]
    else:
        for value in (1e-3, 0.9):
            g = base.copy()
            g[0] = value
            guesses.append(g)
    if problem.conditional:
        # the lo_phase coordinate (last): mid-interval in the guesses above, then the client-edge
        # guess again at the lower end of the phase interval (for the default bounds, phase 0:
        # there the detected quadratures are pure X or pure P, see steerjax.model._conditional)
        low_end = guesses[1].copy()
        low_end[-1] = 0.0
        guesses.insert(2, low_end)
    structured = np.asarray(guesses[:n_starts], dtype=float).reshape(-1, n_vars)
    n_random = max(0, n_starts - len(structured))
    rnd = jax.random.uniform(
        jax.random.PRNGKey(seed), (n_random, n_vars), dtype=dtype, minval=0.02, maxval=0.98
    )
    return jnp.concatenate([jnp.asarray(structured, dtype=dtype), rnd], 0)


def _best_of_starts(problem: Problem, ws, values, steps, solver, gnorms=None, settled=None) -> OptimumResult:
    """The result of one problem from its per-start end points ``ws`` (``(n_starts, n)``),
    objective values and step counts; ``gnorms`` (projected-gradient norms) are computed for
    the winning start when not given; ``settled``: whether each search stopped on the solver's
    own convergence test."""
    safe = jnp.where(jnp.isnan(values), jnp.inf, values)
    k = jnp.argmin(safe)
    w = ws[k]
    pg_norm = jnp.linalg.norm(_projected_gradient(w, jax.grad(lambda z: loss(problem, z))(w)))
    gnorm = pg_norm if gnorms is None else gnorms[k]
    converged = _first_order_optimal(pg_norm, values[k], solver.converged_tol())
    if settled is not None:
        converged = converged | settled[k]
    r_opt, design = rates_from_w(problem, w)
    # Re-evaluate from the design's angles (what a user would do with the returned design).
    r = cascade_rates(problem.thermal, design)
    res: SteeringResult = steering_result_from_rates(r)
    lo_phase = lo_phase_from_w(problem, w)
    if problem.conditional:
        e_pm, e_mp = conditional_steering_from_rates(r, 0.0, lo_phase, problem.efficiency)
    elif problem.lab_frame or problem.free_phi:
        e_pm, e_mp = steering_in_model(problem, r, design.phi)
        res = eqx.tree_at(lambda x: (x.E_plus_given_minus, x.E_minus_given_plus), res, (e_pm, e_mp))
    else:
        e_pm, e_mp = res.E_plus_given_minus, res.E_minus_given_plus
    if problem.objective is not None:
        value = problem.objective(res, design)
    else:
        value = select_direction(problem.direction, e_pm, e_mp)
    E_other = select_direction(other_direction(problem.direction), e_pm, e_mp)
    robust = problem.has_tolerance
    E_worst = worst_case(problem, r, design) if robust else value
    rho_p, rho_m = r_opt.plus.damping_ratio, r_opt.minus.damping_ratio
    return OptimumResult(
        value=value,
        E_plus_given_minus=e_pm,
        E_minus_given_plus=e_mp,
        E_u_plus_given_minus=res.E_plus_given_minus,
        E_u_minus_given_plus=res.E_minus_given_plus,
        lo_phase=lo_phase,
        design=design,
        damping_ratio_plus=rho_p,
        damping_ratio_minus=rho_m,
        gamma_plus_hz=r_opt.plus.gamma,
        gamma_minus_hz=r_opt.minus.gamma,
        at_stability_edge=(rho_p < EDGE_DAMPING_RATIO) | (rho_m < EDGE_DAMPING_RATIO),
        grad_norm=gnorm,
        steps=steps[k],
        converged=converged,
        w=w,
        start_values=values,
        E_worst=E_worst,
        E_other=E_other,
        tolerant=robust,
        phase_free=problem.free_phi,
    )


def default_block_size(device: jax.Device | None = None, conditional: bool = False) -> int:
    """Problems per compiled block: 1024 on CPU, 4096 on accelerators; for conditional problems
    16 on CPU and 1024 on accelerators.

    With the default solver a block is a queue of ``block_size * n_starts`` searches worked
    off by :func:`default_lanes` lanes, so larger blocks waste less at the end of the queue;
    a batch smaller than the block runs only its own searches (the block is padded, the
    padding is not searched).  The winning design of every row, padding included, is then
    re-evaluated once; for a conditional problem that is a Riccati solve per row, which made
    a 2-problem call take 4-5 s with blocks of 1024 against 1.2 s with 16 (2-core CPU).
    """
    device = jax.devices()[0] if device is None else device
    if conditional:
        return 16 if device.platform == "cpu" else 1024
    return 1024 if device.platform == "cpu" else 4096


def default_lanes(device: jax.Device | None = None) -> int:
    """Searches in flight at once per block (default solver): 128 on CPU, 8192 on accelerators.

    Measured on the 2-core CPU (Fig. 4 data, 3,200 optima): 64, 128 and 256 lanes took the same
    time within noise (0.80-0.87 s).  The accelerator value is a guess: no GPU was available.
    """
    device = jax.devices()[0] if device is None else device
    return 128 if device.platform == "cpu" else 8192


def _where_rows(mask: Array, a: Array, b: Array) -> Array:
    """Per lane (leading axis): ``a`` where ``mask``, else ``b``."""
    return jnp.where(jnp.reshape(mask, mask.shape + (1,) * (a.ndim - 1)), a, b)


def _with_objective(problem: Problem, objective) -> Problem:
    """``problem`` with its objective field set (the batching keeps the shared objective out of
    the rows: :func:`steerjax.optimize`)."""
    return eqx.tree_at(lambda p: p.objective, problem, objective, is_leaf=lambda x: x is None)


def _pool_search(block: Problem, objective, starts: Array, n_valid: Array, solver, lanes: int):
    """Run every (problem, start) search of ``block`` through a pool of ``lanes`` searches.

    The searches of a block are tasks ``t = problem * n_starts + start``.  One ``while_loop``
    advances all lanes by one solver iteration at a time (``vmap`` over lanes); a lane whose
    search has finished writes its end point out and takes the next task from the queue.  A
    vmapped loop of whole searches instead runs every start to the step count of the slowest
    one in its block (measured on Fig. 4: 21-35 iterations per block for a mean of 11-12 per
    search), so the pool does far fewer lane-iterations.  Each search's arithmetic is the
    same whichever lane runs it.  Only the first ``n_valid`` problems are solved (the rest of
    a block is padding); their rows of the output are the start points, with value ``inf``.

    Returns end points ``(B, n_starts, n)``, objective values ``(B, n_starts)``, steps and
    whether each search stopped on a convergence test (``settled`` of the solver's step).
    """
    n_problems = jnp.shape(block.C_minus)[0]
    if starts.ndim == 2:
        starts = jnp.broadcast_to(starts, (n_problems, *starts.shape))
    n_starts, n = starts.shape[1:]
    n_tasks = n_problems * n_starts
    flat_starts = jnp.reshape(starts, (n_tasks, n))
    t_valid = n_valid * n_starts
    n_lanes = min(lanes, n_tasks)

    def lane_fun(task):
        problem = jax.tree_util.tree_map(lambda x: x[task // n_starts], block)
        problem = _with_objective(problem, objective)
        return lambda z: loss(problem, z)

    step = jax.vmap(lambda task, s: solver.step(lane_fun(task), s))
    init = jax.vmap(lambda task, w0: solver.init(lane_fun(task), w0))
    terminate = jax.vmap(solver.terminate)
    point = jax.vmap(solver.point)

    def body(state):
        task, active, lane, queued, out_w, out_f, out_k, out_s = state
        lane = step(task, lane)
        done, settled = terminate(lane)
        w, f, k = point(lane)
        finished = active & done
        slot = jnp.where(finished, task, n_tasks)  # out of range: dropped
        out_w = out_w.at[slot].set(w, mode="drop")
        out_f = out_f.at[slot].set(f, mode="drop")
        out_k = out_k.at[slot].set(k, mode="drop")
        out_s = out_s.at[slot].set(settled, mode="drop")
        new = queued + jnp.cumsum(finished, dtype=jnp.int32) - 1
        refill = finished & (new < t_valid)
        task = jnp.where(refill, new, task)
        fresh = init(task, flat_starts[jnp.clip(new, 0, n_tasks - 1)])
        lane = jax.tree_util.tree_map(lambda a, b: _where_rows(refill, a, b), fresh, lane)
        active = jnp.where(finished, refill, active)
        queued = queued + jnp.sum(finished, dtype=jnp.int32)
        return task, active, lane, queued, out_w, out_f, out_k, out_s

    def cond(state):
        return jnp.any(state[1])

    task = jnp.arange(n_lanes, dtype=jnp.int32)
    t_valid = jnp.asarray(t_valid, jnp.int32)
    state = (
        task,
        task < t_valid,
        init(task, flat_starts[:n_lanes]),
        jnp.minimum(jnp.int32(n_lanes), t_valid),
        flat_starts,
        jnp.full(n_tasks, jnp.inf, flat_starts.dtype),
        jnp.zeros(n_tasks, jnp.int32),
        jnp.zeros(n_tasks, bool),
    )
    out = jax.lax.while_loop(cond, body, state)
    out_w, out_f, out_k, out_s = out[4:]
    return (
        jnp.reshape(out_w, (n_problems, n_starts, n)),
        jnp.reshape(out_f, (n_problems, n_starts)),
        jnp.reshape(out_k, (n_problems, n_starts)),
        jnp.reshape(out_s, (n_problems, n_starts)),
    )


@eqx.filter_jit(compiler_options=BLOCK_COMPILER_OPTIONS)
def _solve_block_pooled(
    block: Problem, objective, starts: Array, n_valid: Array, solver, lanes: int
) -> OptimumResult:
    """Solve one block of problems (``starts`` shared or one set per problem) through a search
    pool (:func:`_pool_search`).  Every solver runs here, through its
    :class:`~steerjax.optim._solvers.AbstractMinimiser` interface.  ``objective`` (the
    problems' shared custom objective, or None) comes separately from the rows of ``block``:
    its arrays are traced arguments, its function and structure static."""
    ws, values, steps, settled = _pool_search(block, objective, starts, n_valid, solver, lanes)

    def best(problem, ws, values, steps, settled):
        return _best_of_starts(_with_objective(problem, objective), ws, values, steps, solver, None, settled)

    return jax.vmap(best)(block, ws, values, steps, settled)


def _flatten(problem: Problem) -> Problem:
    """The problem with its batch axes flattened into one, as host (numpy) arrays."""
    n = int(np.prod(problem.batch_shape)) if problem.batch_shape else 1
    bs = len(problem.batch_shape)

    def flat(x):
        x = np.asarray(x)
        return np.reshape(x, (n, *x.shape[bs:]))

    return jax.tree_util.tree_map(flat, problem)


def _take_rows(tree, start: int, size: int):
    """Rows ``start:start+size`` of every leaf (host arrays), padded by repeating the last row."""

    def take(x):
        rows = np.asarray(x)[start : start + size]
        pad = size - rows.shape[0]
        return np.concatenate([rows, np.repeat(rows[-1:], pad, 0)], 0) if pad else rows

    return jax.tree_util.tree_map(take, tree)


def _block(tree, k: int, size: int):
    return jax.tree_util.tree_map(lambda x: x[k * size : (k + 1) * size], tree)


def _concat(pieces):
    return (
        pieces[0] if len(pieces) == 1 else jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, 0), *pieces)
    )


@functools.partial(jax.jit, static_argnums=(1, 2))
def _trim(out, n: int, batch_shape: tuple[int, ...]):
    """The first ``n`` rows of every leaf, reshaped to ``batch_shape`` (one compiled program
    instead of a slice and a reshape per leaf)."""
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x[:n], batch_shape + x.shape[1:]), out)


def _solve_on_devices(
    problem_flat, objective, starts, solver, devices, block_size, progress, lanes, batch_shape=None
) -> OptimumResult:
    """Solve all rows of ``problem_flat`` in blocks of ``block_size``, spread over ``devices``;
    ``objective`` is the rows' shared custom objective (or None), placed on each device whole.

    The rows are padded to whole blocks, equally many on every device, and device ``i`` gets a
    contiguous run of blocks.  Every block runs the same compiled single-device program
    (dispatched asynchronously, so all devices work at once), so each row's arithmetic is the
    same whatever the batch size or the number of devices: results are bitwise independent of
    both.  (One SPMD-partitioned program would be compiled differently by XLA and differ at
    the rounding level.)  Blocks also stop iterating as soon as their own slowest problem has
    converged, and one compilation serves every batch size.  The per-device results are
    assembled into global arrays whose batch axis is sharded over a 1-D mesh (axis
    ``"batch"``, ``jax.sharding.NamedSharding``).  With several processes (``jax.distributed``)
    each process computes the blocks of its own devices and the results are all-gathered, so
    every process returns the whole batch.
    """
    n = int(jnp.shape(problem_flat.C_minus)[0])
    nd = len(devices)
    own_starts = jnp.ndim(starts) == 3  # (n, n_starts, n_variables): a start set per problem
    blocks_per_device = -(-n // (block_size * nd))
    per_device = blocks_per_device * block_size
    rows = (problem_flat, starts) if own_starts else problem_flat
    padded = _take_rows(rows, 0, per_device * nd)
    objective_arrays, objective_static = eqx.partition(objective, eqx.is_array)
    local = {}
    for i, device in enumerate(devices):
        if device.process_index != jax.process_index():
            continue

        def block(b, i=i, device=device):
            return jax.device_put(
                _take_rows(padded, (i * blocks_per_device + b) * block_size, block_size), device
            )

        local[i] = []
        for b in range(blocks_per_device):
            first = (i * blocks_per_device + b) * block_size
            n_valid = jax.device_put(np.int32(min(max(n - first, 0), block_size)), device)
            rows_b = block(b)
            problem_b, starts_b = rows_b if own_starts else (rows_b, jax.device_put(starts, device))
            objective_b = eqx.combine(jax.device_put(objective_arrays, device), objective_static)
            local[i].append(
                stored_call(
                    "pool_block",
                    _solve_block_pooled,
                    problem_b,
                    objective_b,
                    starts_b,
                    n_valid,
                    solver,
                    lanes,
                    compiler_options=BLOCK_COMPILER_OPTIONS,
                )
            )
    total = len(local) * blocks_per_device
    done = 0
    if progress is not None:  # wait in order, to report progress (else stay asynchronous)
        for i in sorted(local):
            for piece in local[i]:
                jax.block_until_ready(piece)
                done += 1
                progress(min(n, round(n * done / total)), n)
    per = {i: _concat(local[i]) for i in local}
    if nd == 1:
        out = per[0]
    else:
        mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))

        def assemble(*leaves):
            return jax.make_array_from_single_device_arrays(
                (per_device * nd, *leaves[0].shape[1:]), sharding, list(leaves)
            )

        out = jax.tree_util.tree_map(assemble, *[per[i] for i in sorted(per)])
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
    return _trim(out, n, (n,) if batch_shape is None else tuple(batch_shape))
