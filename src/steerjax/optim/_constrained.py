"""Optima under a bound on the other direction's E (issue 12): the outer loop of the augmented
Lagrangian of :mod:`steerjax.optim._constraint` around the batched search of
:func:`steerjax.optimize`.

For a batch of problems (minimise E_d subject to E_o <= t, or E_o >= s):

1. The two single-direction optima are found (one batched search each): U minimises E_d alone,
   O minimises E_o alone.  E_o* = E_o(O) is the smallest E_o any allowed design reaches, so
   ``max_other_E < E_o*`` is infeasible (ValueError per row with the reachable range).  Where
   U already satisfies the bound the constraint is inactive and U is the answer.
2. For the other (active) rows every start (the default starts, U and O) becomes a row of its
   own, and the local search is run on the augmented objective, warm-started from its previous
   end point, for a few outer iterations; between them each row's multiplier is updated
   (lambda <- max(0, lambda + mu g)) and its penalty raised where the violation did not shrink
   by 4.  All rows of all problems go through one compiled search per outer iteration.
3. Each end point is moved onto the feasible side (a few Newton steps on g along its projected
   gradient, to g = -RESTORE_MARGIN), re-evaluated from the returned design's angles, and kept
   only if the bound holds there exactly.  Among U, O and these points each problem returns
   the feasible one with the smallest E_d.

So the returned design always satisfies the bound as re-evaluated (no slack), and the bound
enters the objective only through the term that vanishes at the KKT point: nothing is traded
for feasibility but the margin of 2e-14 relative.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import select_direction
from ..model._steering import steering_from_rates
from ._constraint import INITIAL_PENALTY, OtherEConstraint, other_direction, residual
from ._coordinates import rates_from_w
from ._problem import Problem
from ._result import OptimumResult
from ._solvers import _projected_gradient

OUTER_ITERATIONS = 12
"""Largest number of outer (multiplier) iterations."""

PRUNE_AFTER = 2
"""After this many outer iterations only the :data:`KEEP_STARTS` most promising starts of each
problem go on."""

KEEP_STARTS = 2

FEASIBILITY_TOL = 1e-10
"""The outer loop stops once every row's relative violation max(g, -lambda/mu) is below this
(what is left is removed by the restoration; it costs ~lambda * 1e-10 in E)."""

MAX_PENALTY = 1e6
"""Largest penalty: the multiplier update lambda + mu g then adds at most ~1e6 x the inner
search's rounding-level residual (~1e-11) to lambda."""

RESTORE_MARGIN = 2e-14
"""The restoration aims at g = -RESTORE_MARGIN (relative), above the ~1e-14 relative rounding
of E (README, Accuracy), so that the bound holds for the design re-evaluated."""

RESTORE_STEPS = 4

KKT_PENALTY = 1e-30
"""Penalty with which the final points are evaluated: the gradient of the augmented objective
is then grad E + lambda grad g, the KKT residual that ``converged`` tests."""


class InfeasibleBoundError(ValueError):
    """Some problems of a batch have a bound on the other direction's E that no allowed design
    meets.  ``rows`` maps each such row (flat index into the batch) to its message; ``result``
    holds the optima of the whole batch with NaN in those rows (so that a caller can keep the
    good ones)."""

    def __init__(self, rows: dict[int, str], result: OptimumResult):
        self.rows = rows
        self.result = result
        shown = "; ".join(f"row {i}: {m}" for i, m in list(rows.items())[:5])
        more = f" (and {len(rows) - 5} more rows)" if len(rows) > 5 else ""
        super().__init__(shown + more)


def _without_bound(problem: Problem) -> Problem:
    return eqx.tree_at(lambda p: p.other_E, problem, None, is_leaf=lambda x: x is None)


def with_direction(problem: Problem, direction: str) -> Problem:
    """A copy of ``problem`` minimising ``direction`` instead (``direction`` is static)."""
    new = jax.tree_util.tree_map(lambda x: x, problem)
    object.__setattr__(new, "direction", direction)
    return new


def _rows(tree, index: np.ndarray):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[index], tree)


def _with_multipliers(problem: Problem, lam: np.ndarray, mu: np.ndarray) -> Problem:
    return eqx.tree_at(
        lambda p: (p.other_E.multiplier, p.other_E.penalty), problem, (jnp.asarray(lam), jnp.asarray(mu))
    )


def _residual_np(c: OtherEConstraint, E_other) -> np.ndarray:
    return np.asarray(c.sign) * (np.asarray(E_other) / np.asarray(c.bound) - 1.0)


def _other_residual(p: Problem, z: Array) -> Array:
    r, _ = rates_from_w(p, z)
    return residual(p.other_E, select_direction(other_direction(p.direction), *steering_from_rates(r)))


def _own_E(p: Problem, z: Array) -> Array:
    r, _ = rates_from_w(p, z)
    return select_direction(p.direction, *steering_from_rates(r))


@eqx.filter_jit
def _restore(problem: Problem, w: Array) -> tuple[Array, Array]:
    """Newton steps on the residual g (relative) along its projected gradient, towards
    g = -RESTORE_MARGIN, for rows with g above that (one row per problem; vmapped); then the
    least-squares KKT multiplier max(0, -<grad E, grad g>/|grad g|^2) over the coordinates
    strictly inside the box."""

    def one(p, z):
        for _ in range(RESTORE_STEPS):
            g, dg = jax.value_and_grad(lambda x: _other_residual(p, x) + RESTORE_MARGIN)(z)
            d = _projected_gradient(z, dg)  # the components that can move inside the box
            step = g / jnp.maximum(jnp.sum(d * dg), 1e-300)
            moved = jnp.clip(z - step * d, 0.0, 1.0)
            z = jnp.where((g > 0) & jnp.all(jnp.isfinite(moved)), moved, z)
        inside = (z > 0.0) & (z < 1.0)
        dE = jnp.where(inside, jax.grad(lambda x: _own_E(p, x))(z), 0.0)
        dg = jnp.where(inside, jax.grad(lambda x: _other_residual(p, x))(z), 0.0)
        lam = jnp.maximum(0.0, -jnp.sum(dE * dg) / jnp.maximum(jnp.sum(dg * dg), 1e-300))
        return z, lam

    return jax.vmap(one)(problem, w)


def _pick(candidates: list[OptimumResult], choice: np.ndarray) -> OptimumResult:
    """Row ``i`` of ``candidates[choice[i]]`` for every row (host arrays; all candidates share
    the shape)."""
    rows = np.arange(choice.shape[0])
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs)[choice, rows], *candidates)


def _message(upper, bound: float, direction: str, U_other: float, O_other: float, best=None) -> str:
    """Why a bound cannot be met, with the reachable range where it is known."""
    other = "E_-|+" if other_direction(direction) == "minus-given-plus" else "E_+|-"
    if upper:
        return (
            f"max_other_E = {bound:.12g} is below the smallest reachable {other} = {O_other:.12g} "
            f"(its own optimum); allowed range [{O_other:.12g}, inf), the bound is inactive above "
            f"{U_other:.12g} ({other} at the unconstrained optimum)"
        )
    return (
        f"min_other_E = {bound:.12g}: no allowed design found with {other} >= {bound:.12g}; the "
        f"largest {other} reached was {best:.12g}"
    )


def optimize_with_other_bound(
    problem: Problem,
    solve: Callable[[Problem, Array | None], OptimumResult],
    n_starts_default: Callable[[Problem], Array],
    evaluate: Callable[[Problem, Array], OptimumResult],
    anchors: tuple[OptimumResult, OptimumResult] | None = None,
) -> OptimumResult:
    """The constrained optima of ``problem`` (which has ``other_E``), any batch shape.

    ``solve(problem, starts)`` runs the unconstrained machinery of :func:`steerjax.optimize`
    (starts ``None``: its default starts; else one start per row, shape ``(rows, 1, n)``);
    ``n_starts_default(problem)`` gives the default starts ``(n_starts, n)``;
    ``evaluate(problem, w)`` the result at box coordinates ``w`` (one row each, no search).  ``anchors``:
    the two single-direction optima (U, O) of the rows, if already known (e.g. shared by a
    whole front).  Raises :class:`InfeasibleBoundError` for rows whose bound cannot be met.
    """
    batch = problem.batch_shape
    flat = jax.tree_util.tree_map(
        lambda x: np.reshape(np.asarray(x), (-1, *np.shape(x)[len(batch) :])), problem
    )
    c = flat.other_E
    bound = np.asarray(c.bound)
    m = bound.shape[0]
    if anchors is None:
        free = _without_bound(flat)
        U = solve(free, None)
        O = solve(with_direction(free, other_direction(problem.direction)), None)
    else:
        U, O = anchors
    U_other, O_value = np.asarray(U.E_other), np.asarray(O.value)
    g_U, g_O = _residual_np(c, U_other), _residual_np(c, O_value)
    active = g_U > 0
    bad: dict[int, str] = {}
    upper = np.asarray(c.sign) > 0
    for i in np.nonzero(upper & (g_O > 0))[0]:
        bad[int(i)] = _message(True, bound[i], problem.direction, U_other[i], O_value[i])
    todo = np.nonzero(active & ~np.isin(np.arange(m), list(bad)))[0]
    # O minimises the other direction: as a candidate its value is E_d, its E_other E_o
    O_as_candidate = dataclasses.replace(O, value=O.E_other, E_other=O.value)
    candidates, values = [U, O_as_candidate], [np.where(g_U <= 0, np.asarray(U.value), np.inf)]
    values.append(np.where(g_O <= 0, np.asarray(O.E_other), np.inf))
    best_other = np.where(np.isfinite(U_other), U_other, -np.inf)
    best_other = np.maximum(best_other, np.where(np.isfinite(O_value), O_value, -np.inf))
    if todo.size:
        al, al_values = _augmented_lagrangian(flat, todo, U, O, solve, n_starts_default, evaluate)
        n_al = al_values.shape[1]
        for j in range(n_al):
            full = jax.tree_util.tree_map(lambda u, a, j=j: _scatter(u, a, todo, j, n_al), U, al)
            v = np.full(m, np.inf)
            v[todo] = al_values[:, j]
            candidates.append(full)
            values.append(v)
        al_other = np.asarray(al.E_other).reshape(todo.size, n_al)
        best_other[todo] = np.maximum(best_other[todo], np.nanmax(al_other, axis=1))
    values = np.stack(values, 1)
    choice = np.argmin(values, 1)
    feasible = np.isfinite(values[np.arange(m), choice])
    for i in np.nonzero(~feasible)[0]:
        if int(i) not in bad:
            bad[int(i)] = _message(
                upper[i], bound[i], problem.direction, U_other[i], O_value[i], best_other[i]
            )
    result = _pick(candidates, choice)
    result = dataclasses.replace(result, start_values=values, constrained=True)
    if bad:
        rows = np.asarray(sorted(bad))
        result = jax.tree_util.tree_map(lambda x: _nan_rows(x, rows), result)
    result = jax.tree_util.tree_map(lambda x: jnp.asarray(np.reshape(x, (*batch, *np.shape(x)[1:]))), result)
    if bad:
        raise InfeasibleBoundError(bad, result)
    return result


def _nan_rows(x, rows):
    x = np.array(x)
    if np.issubdtype(x.dtype, np.floating):
        x[rows] = np.nan
    return x


def _scatter(u, a, todo, j, n_al):
    """U's leaf with the rows ``todo`` replaced by the ``j``-th start of each active problem
    (host arrays)."""
    u = np.array(u)
    a = np.asarray(a)
    a = np.reshape(a, (todo.size, n_al, *a.shape[1:]))[:, j]
    if a.shape[1:] != u.shape[1:]:  # start_values: per-start shapes differ, replaced later
        return u
    u[todo] = a
    return u


def _augmented_lagrangian(flat: Problem, todo, U, O, solve, n_starts_default, evaluate):
    """The outer loop for the active rows ``todo``: every start a row.  Returns the results at
    the restored end points (rows ``todo.size * n_starts``, start-major within a problem) and
    their E_d where the bound holds as re-evaluated (inf elsewhere), shape (todo, n_starts)."""
    sub = _rows(flat, todo)
    starts = np.asarray(n_starts_default(sub))
    per = np.concatenate(
        [
            np.broadcast_to(starts, (todo.size, *starts.shape)),
            np.asarray(U.w)[todo][:, None],
            np.asarray(O.w)[todo][:, None],
        ],
        1,
    )
    n_s = per.shape[1]
    owner = np.repeat(np.arange(todo.size), n_s)
    w = per.reshape(-1, per.shape[-1])
    lam = np.zeros(w.shape[0])
    mu = np.full(w.shape[0], INITIAL_PENALTY)
    previous = np.full(w.shape[0], np.inf)
    for it in range(OUTER_ITERATIONS):
        rows = _rows(sub, owner)
        res = solve(_with_multipliers(rows, lam, mu), jnp.asarray(w)[:, None, :])
        w = np.asarray(res.w)
        g = _residual_np(rows.other_E, res.E_other)
        violation = np.abs(np.maximum(g, -lam / mu))
        lam = np.maximum(0.0, lam + mu * g)
        mu = np.where(violation > 0.25 * previous, np.minimum(mu * 10.0, MAX_PENALTY), mu)
        previous = violation
        if it + 1 == PRUNE_AFTER:
            keep = _best_starts(owner, np.asarray(res.value), violation, KEEP_STARTS)
            owner, w, lam, mu, previous = owner[keep], w[keep], lam[keep], mu[keep], previous[keep]
        elif it + 1 > PRUNE_AFTER and np.all(violation <= FEASIBILITY_TOL):
            break
    rows = _rows(sub, owner)
    w, lam = _padded(_restore_in_rate_units, _with_multipliers(rows, lam, mu), w)
    res = _padded(evaluate, _with_multipliers(rows, lam, np.full_like(mu, KKT_PENALTY)), w)
    g = _residual_np(rows.other_E, res.E_other)
    n_kept = KEEP_STARTS if owner.size == todo.size * KEEP_STARTS else n_s
    values = np.where(g <= 0, np.asarray(res.value), np.inf).reshape(todo.size, n_kept)
    return res, values


def _best_starts(owner: np.ndarray, value: np.ndarray, violation: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` most promising rows of each problem (rows grouped by ``owner``, in
    order): smallest E among nearly feasible rows, then smallest violation."""
    n_s = owner.size // (owner.max() + 1)
    score = np.where(violation <= 1e-3, value, 1e3 + violation).reshape(-1, n_s)
    best = np.argsort(score, axis=1, kind="stable")[:, :k]
    return (best + n_s * np.arange(best.shape[0])[:, None]).reshape(-1)


PAD_ROWS = 64
"""The restoration and the final evaluation run in blocks of this many rows, so that one
compiled program serves every batch size."""


def _padded(fn, rows: Problem, w: np.ndarray):
    """``fn(rows, w)`` in blocks of :data:`PAD_ROWS` rows (the last padded by repeating its
    last row), the output concatenated and cut back to the rows: one compiled program for
    every row count."""
    n = w.shape[0]
    pieces = []
    for start in range(0, n, PAD_ROWS):
        index = np.minimum(np.arange(start, start + PAD_ROWS), n - 1)
        pieces.append(jax.tree_util.tree_map(np.asarray, fn(_rows(rows, index), w[index])))
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs)[:n], *pieces)


def _restore_in_rate_units(problem: Problem, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from ._optimize import _problem_in_rate_units

    scaled, _ = _problem_in_rate_units(problem)
    w, lam = _restore(scaled, jnp.asarray(w))
    return np.asarray(w), np.asarray(lam)
