"""Local solvers behind :func:`steerjax.optimize`, all with one interface.

A solver is an :class:`AbstractMinimiser`: ``init(fun, w0)`` makes a state, ``step(fun, state)``
takes one iteration, ``terminate(state)`` says whether the search is over, and ``point(state)``
gives the current point (box coordinates ``w in [0, 1]^n``), its objective value and the
iteration count.  This is the shape of optimistix's minimisers (``init``/``step``/``terminate``),
reduced to what the search pool needs: with single iterations exposed, the pool
(:func:`steerjax.optim._search._pool_search`) keeps a fixed number of searches in flight and
hands a finished search's lane to the next (problem, start) pair, for every solver alike.

Provided: :class:`ProjectedNewton` (the default; exact Hessian, box constraints) and the
optax-based :class:`LBFGS` and :class:`Adam`.  A user-written solver subclasses
:class:`AbstractMinimiser`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

from ..linalg._smalleig import symmetric_eig_small
from ._linesearch import scale_by_parallel_linesearch


def _projected_gradient(w, g):
    return w - jnp.clip(w - g, 0.0, 1.0)


def _independent_coordinates(g: Array, H: Array) -> Array:
    """Coordinates on which the objective does not depend: gradient and Hessian row exactly 0
    (a degenerate box, lower == upper, maps every value of the coordinate to the same design)."""
    return (g == 0.0) & jnp.all(H == 0.0, axis=-1)


def _model_tol(model_tol: float, dtype) -> float:
    """``model_tol`` (stated for float64) scaled to the rounding unit of ``dtype``: exactly
    ``model_tol`` in float64, ``model_tol * 2**29`` (~5e-8) in float32."""
    return model_tol * float(jnp.finfo(dtype).eps / jnp.finfo(jnp.float64).eps)


def first_order_tol(dtype) -> float:
    """Tolerance of the first-order optimality test of :func:`optimize` for ``dtype``:
    ``eps**(1/3)`` of its rounding unit (6.1e-6 in float64, 4.9e-3 in float32)."""
    return float(jnp.finfo(dtype).eps) ** (1.0 / 3.0)


def _first_order_optimal(pg_norm: Array, f: Array, tol: float | None = None) -> Array:
    """First-order optimality on the box: the norm of the projected gradient in box coordinates
    is at most ``tol`` (default :func:`first_order_tol` of the dtype) times |f|.

    The projected gradient drops the components that push against an active bound, so optima
    on a bound (the client's stability edge, theta = pi/2, a C_+ bound) pass; the coordinate of
    a degenerate box (lower == upper) has gradient exactly 0 (the map ignores it).  Box
    coordinates give every free variable the same scale (its interval maps onto [0, 1]), so the
    test is relative to both |f| and the variable scale.
    """
    tol = first_order_tol(pg_norm.dtype) if tol is None else tol
    return pg_norm <= tol * jnp.abs(f)


def _optax_lib():
    """optax, imported on first use: the default solver does not need it, and importing it
    costs ~0.2 s of every command-line start-up."""
    import optax

    return optax


class AbstractMinimiser(eqx.Module):
    """Interface of a local solver on the box ``[0, 1]^n`` (see the module docstring).

    Subclasses implement :meth:`init`, :meth:`step`, :meth:`terminate` and :meth:`point`; the
    state is any pytree whose structure does not change between steps (the search pool stores
    one per lane and swaps in a fresh :meth:`init` state when a lane takes a new search).
    ``fun`` maps a point ``w`` of shape ``(n,)`` to a scalar and must be a pure JAX function.
    """

    @abc.abstractmethod
    def init(self, fun: Callable[[Array], Array], w0: Array) -> Any:
        """The state of a search starting at ``w0`` (cheap: no objective evaluation needed)."""

    @abc.abstractmethod
    def step(self, fun: Callable[[Array], Array], state: Any) -> Any:
        """One iteration."""

    @abc.abstractmethod
    def terminate(self, state: Any) -> tuple[Array, Array]:
        """``(done, settled)``: the search is over; it ended on the solver's own convergence
        test (not on a stall or an iteration limit)."""

    @abc.abstractmethod
    def point(self, state: Any) -> tuple[Array, Array, Array]:
        """``(w, f, steps)``: the search's result so far, in box coordinates."""

    def converged_tol(self) -> float | None:
        """Relative tolerance of the first-order test that marks a result ``converged``
        (``None``: :func:`first_order_tol` of the dtype)."""
        return None

    def run(self, fun: Callable[[Array], Array], w0: Array):
        """A whole search from ``w0`` as one ``lax.while_loop``: ``(w, f, grad_norm, steps,
        settled)``, ``grad_norm`` being the projected gradient's norm in box coordinates."""

        def cond(state):
            done, _ = self.terminate(state)
            return ~done

        state = jax.lax.while_loop(cond, lambda s: self.step(fun, s), self.init(fun, w0))
        w, f, k = self.point(state)
        _, settled = self.terminate(state)
        return w, f, jnp.linalg.norm(_projected_gradient(w, jax.grad(fun)(w))), k, settled


def _value_grad_hessian(fun: Callable[[Array], Array], w: Array) -> tuple[Array, tuple[Array, Array]]:
    """``(H, (f, g))``: Hessian, value and gradient of ``fun`` at ``w`` from one
    forward-over-reverse pass (``jacfwd`` of ``value_and_grad``, value and gradient as its
    auxiliary output).  Separate ``value_and_grad`` and ``hessian`` calls trace, compile and
    run the objective's primal and reverse pass twice; for the conditional objective (a
    Riccati solve) that second copy was a quarter of the block program."""

    def grad_with_aux(x):
        f, g = jax.value_and_grad(fun)(x)
        return g, (f, g)

    return jax.jacfwd(grad_with_aux, has_aux=True)(w)


class _NewtonState(eqx.Module):
    w: Array
    f: Array
    k: Array
    done: Array
    settled: Array


class ProjectedNewton(AbstractMinimiser):
    """Box-constrained Newton method (Bertsekas' projected Newton) -- the default solver.

    Each iteration takes the exact gradient and Hessian (``jax.hessian``; the problems have 2-5
    variables), fixes the coordinates that sit on a bound with the gradient pushing outwards,
    takes a Newton step in the others (Hessian eigenvalues -- :func:`symmetric_eig_small`, no
    LAPACK call -- made positive to keep it a descent direction), projects onto the box and
    tries the step sizes ``2**-e`` for ``e`` in ``step_exponents``, all evaluated at once; the
    largest that satisfies the Armijo rule wins (else the best that decreases the objective).
    It stops when the projected gradient is below ``tol``, when no trial decreases the
    objective, or after a step from which a convex quadratic model (full Newton step inside the
    box) predicts a decrease below ``model_tol * |f|`` -- rounding level: the step that would
    follow changes nothing.  Optima on a bound -- the client's stability edge, theta = pi/2, a
    C_+ bound -- are reached in finitely many steps.

    The default trial sizes 1, 1/2, 1/8, 1/64, 1/2048 span the same range as the twelve sizes
    1, 1/2, ..., 1/2048 with five evaluations.  Measured on the 3,200 optima of Fig. 4 with
    twelve sizes: 76 % of the steps take size 1, 7 % size 1/2, 4 % 1/4 and 8 % stop (no size
    decreases); with the five sizes no optimum got worse by more than 5e-16 and the run was
    ~15 % faster.  The model-based stop saves the final no-decrease iteration of most searches
    (mean steps of the winning start 11.0 -> 10.5, no optimum worse by more than 5e-16).

    ``step`` is one iteration (used by the search pool of :func:`optimize`), ``run`` a whole
    search.  ``grad_norm`` is the norm of the projected gradient in box coordinates.  A result
    is ``converged`` when its search stopped on the projected-gradient or the model-based test,
    or when it passes the first-order test of :func:`optimize` (``grad_norm <= gtol * |f|``;
    ``gtol`` defaults to :func:`first_order_tol` of the dtype).  ``model_tol`` is stated for
    float64 and scaled to the rounding unit of the dtype (``_model_tol``).
    """

    max_steps: int = eqx.field(static=True, default=60)
    tol: float = eqx.field(static=True, default=1e-13)
    gtol: float | None = eqx.field(static=True, default=None)
    step_exponents: tuple[int, ...] = eqx.field(static=True, default=(0, 1, 3, 6, 11))
    model_tol: float = eqx.field(static=True, default=1e-16)

    def converged_tol(self) -> float | None:
        return self.gtol

    def init(self, fun: Callable[[Array], Array], w0: Array) -> _NewtonState:
        # f is taken from the first gradient evaluation (k == 0), so the start needs no value
        no = jnp.asarray(False)
        return _NewtonState(w0, jnp.zeros((), w0.dtype), jnp.asarray(0), no, no)

    def terminate(self, state: _NewtonState) -> tuple[Array, Array]:
        return state.done | (state.k >= self.max_steps), state.settled

    def point(self, state: _NewtonState) -> tuple[Array, Array, Array]:
        return state.w, state.f, state.k

    def step(self, fun: Callable[[Array], Array], state: _NewtonState) -> _NewtonState:
        """One projected-Newton iteration.  ``done`` once converged, stalled or at
        ``max_steps``; ``settled`` when the stop is a convergence test (projected gradient below
        ``tol``, or the model-based stop), not a stall or the step limit."""
        w, f, k = state.w, state.f, state.k
        n = w.shape[-1]
        ts = 2.0 ** -jnp.asarray(self.step_exponents, dtype=w.dtype)
        eye = jnp.eye(n, dtype=w.dtype)
        H, (f_here, g) = _value_grad_hessian(fun, w)
        f = jnp.where(k == 0, f_here, f)
        pg = _projected_gradient(w, g)
        pg_norm = jnp.linalg.norm(pg)
        delta = jnp.minimum(1e-6, pg_norm)
        active = ((w <= delta) & (g > 0)) | ((w >= 1.0 - delta) & (g < 0))
        # A coordinate the objective does not depend on (a degenerate box, lower == upper) is
        # fixed too: left free it adds a zero Hessian eigenvalue, so the model below never
        # counted as convex and the model-based stop could not fire.
        active = active | _independent_coordinates(g, H)
        free = ~active
        Hm = jnp.where(free[:, None] & free[None, :], H, 0.0) + jnp.diag(active.astype(w.dtype))
        Hm = 0.5 * (Hm + Hm.T)
        lam, Q = symmetric_eig_small(jnp.where(jnp.isfinite(Hm), Hm, eye))
        floor = 1e-10 * jnp.max(jnp.abs(lam)) + 1e-300
        convex = jnp.all(lam >= floor)
        lam = jnp.maximum(jnp.abs(lam), floor)
        d = -(Q @ ((Q.T @ g) / lam))
        d = jnp.where(active, -g, d)
        W = jnp.clip(w[None, :] + ts[:, None] * d[None, :], 0.0, 1.0)
        # Decrease predicted by a convex quadratic model for the full Newton step in the free
        # coordinates (which stays inside the box): when it is below rounding of f, this is
        # the last step worth taking.
        predicted = -jnp.sum(jnp.where(free, d * g, 0.0))
        inside = jnp.all(~free | ((w + d >= 0.0) & (w + d <= 1.0)))
        final = convex & inside & (predicted <= _model_tol(self.model_tol, w.dtype) * jnp.abs(f))
        fs = jax.vmap(fun)(W)
        fs = jnp.where(jnp.isnan(fs), jnp.inf, fs)
        armijo = fs <= f + 1e-4 * ((W - w[None, :]) @ g)
        k_best = jnp.where(jnp.any(armijo), jnp.argmax(armijo), jnp.argmin(fs))
        f_new, w_new = fs[k_best], W[k_best]
        accept = f_new < f
        k = k + 1
        settled = (pg_norm <= self.tol) | final
        done = settled | ~accept | (k >= self.max_steps)
        return _NewtonState(jnp.where(accept, w_new, w), jnp.where(accept, f_new, f), k, done, settled)


class _OptaxState(eqx.Module):
    z: Array
    opt_state: Any
    best_z: Array
    best_f: Array
    k: Array
    done: Array
    settled: Array


class LBFGS(AbstractMinimiser):
    """optax L-BFGS (``optax.lbfgs``) in the coordinates ``w = sin(z)**2``, run until the
    gradient norm in ``z`` is below ``tol``, a stall or ``max_steps``.

    ``sin(z)**2`` maps R onto [0, 1] smoothly and reaches the bounds at finite ``z``, where
    ``dw/dz = 0``: an optimum on a bound (the client's stability edge) becomes an ordinary
    minimum in ``z``, quadratic in ``z`` (``f ~ f* + g z**2``), which L-BFGS reaches at its
    usual rate.  In logit coordinates (``w = sigmoid(z)``) the bound is only approached along
    the logistic tail, about one unit of ``z`` per step: measured on 32 optima of Fig. 4 (hot
    set, eps = 0), 200-370 steps for the winning start and 127x the time of
    :class:`ProjectedNewton`; clipping (``f(clip(w))``) instead stalls where a clipped
    coordinate should move back inside (optima up to 4 % worse).

    ``linesearch``: ``"parallel"`` (default) is
    :func:`~steerjax.optim._linesearch.scale_by_parallel_linesearch` with ``step_sizes`` and
    ``max_step`` (in ``z``; the coordinates have period pi, so longer steps only wrap
    around): all trials in one evaluation, no loop inside the pool's loop, and what one set of
    trials does not settle carried over to the next iteration (larger steps after a step too
    short, smaller ones after no step).  The first iteration only evaluates the start (a zero
    update), so no later one re-evaluates the current point.  optax's L-BFGS keeps every pair
    it is given: after a step with no positive-curvature pair (or no step) the memory is
    dropped (restart from the scaled gradient).  The search ends on the gradient test, or when
    even steps shrunk to ``eps`` times the first ones decrease nothing right after a restart.
    ``"zoom"`` is optax's zoom line search (strong Wolfe) with up to ``max_linesearch_steps``
    iterations and the initial step size 1 that optax recommends for quasi-Newton methods.

    Measured on the 32 Fig. 4 problems of ``benchmarks/run.py`` section (d) (8 starts,
    docs/dev-notes.md, issue 10): the zoom search with the previous step size as its first
    guess (optax's ``"keep"``, the default of ``scale_by_zoom_linesearch``) took 150 steps per
    winning start, 40-60x the time of :class:`ProjectedNewton`; with first guess 1, 23 steps,
    but in the pool every lane waits for the slowest lane's line search (9.7 iterations per
    pool iteration against 1.9 per lane, both branches of its ``cond`` computed), ~12x.  The
    parallel search: 28 steps per winning start (Newton: 10), 1.8-2.7x, optima equal to
    Newton's within 1.3e-15 (relative), as before.
    """

    max_steps: int = eqx.field(static=True, default=500)
    tol: float = eqx.field(static=True, default=1e-10)
    memory_size: int = eqx.field(static=True, default=10)
    linesearch: str = eqx.field(static=True, default="parallel")
    step_sizes: tuple[float, ...] = eqx.field(static=True, default=(1.0, 0.3, 0.05))
    max_step: float = eqx.field(static=True, default=0.5)
    max_linesearch_steps: int = eqx.field(static=True, default=20)

    def __check_init__(self):
        if self.linesearch not in ("parallel", "zoom"):
            raise ValueError(f"linesearch must be 'parallel' or 'zoom', not {self.linesearch!r}")

    @property
    def gtol(self) -> float:
        return self.tol

    def _optax(self):
        optax = _optax_lib()
        if self.linesearch == "zoom":
            ls = optax.scale_by_zoom_linesearch(
                max_linesearch_steps=self.max_linesearch_steps, initial_guess_strategy="one"
            )
        else:
            ls = scale_by_parallel_linesearch(optax, self.step_sizes, max_step=self.max_step)
        return optax.lbfgs(memory_size=self.memory_size, linesearch=ls)

    def init(self, fun: Callable[[Array], Array], w0: Array) -> _OptaxState:
        z0 = jnp.arcsin(jnp.sqrt(w0))
        no = jnp.asarray(False)
        inf = jnp.asarray(jnp.inf, z0.dtype)
        return _OptaxState(z0, self._optax().init(z0), z0, inf, jnp.asarray(0), no, no)

    def step(self, fun: Callable[[Array], Array], state: _OptaxState) -> _OptaxState:
        if self.linesearch == "zoom":
            return self._zoom_step(fun, state)
        optax = _optax_lib()
        fz = _in_sine(fun)
        opt = self._optax()
        # the line search leaves the value and gradient at its point in the state; before the
        # first step there are none (value inf) and a zero update makes it evaluate the start
        value = optax.tree.get(state.opt_state, "value")
        fresh = ~jnp.isfinite(value)
        grad = jnp.where(fresh, 0.0, optax.tree.get(state.opt_state, "grad"))
        updates, opt_state = opt.update(grad, state.opt_state, state.z, value=value, grad=grad, value_fn=fz)
        z = optax.apply_updates(state.z, updates)
        f_new, g_new = optax.tree.get(opt_state, "value"), optax.tree.get(opt_state, "grad")
        restarted = optax.tree.get(state.opt_state, "count") == 0  # this step's memory was empty
        stalled = ~fresh & (optax.tree.get(opt_state, "learning_rate") == 0)
        scale = optax.tree.get(opt_state, "scale")
        # no positive-curvature pair (or no step): drop the memory.  The line search's step-size
        # scale carries over from a scaled-gradient step to the next (a concave stretch, a
        # failed step), not from an L-BFGS step to the scaled gradient that follows it
        reset = fresh | ~optax.tree.get(opt_state, "positive_curvature")
        scale = jnp.where(restarted, scale, 1.0).astype(scale.dtype)
        clean = optax.tree.set(opt.init(z), value=f_new, grad=g_new, scale=scale)
        opt_state = jax.tree.map(lambda a, b: jnp.where(reset, a, b), clean, opt_state)
        settled = jnp.isfinite(f_new) & (jnp.linalg.norm(g_new) < self.tol)
        k = state.k + 1
        # the end of backtracking: even steps shrunk to eps times the first ones do not decrease f
        exhausted = stalled & restarted & (scale <= jnp.finfo(z.dtype).eps)
        done = settled | exhausted | ~jnp.isfinite(f_new) | (k >= self.max_steps)
        return _OptaxState(z, opt_state, z, f_new, k, done, settled)

    def _zoom_step(self, fun: Callable[[Array], Array], state: _OptaxState) -> _OptaxState:
        optax = _optax_lib()
        fz = _in_sine(fun)
        opt = self._optax()
        value, grad = optax.value_and_grad_from_state(fz)(state.z, state=state.opt_state)
        updates, opt_state = opt.update(grad, state.opt_state, state.z, value=value, grad=grad, value_fn=fz)
        z = optax.apply_updates(state.z, updates)
        # the line search leaves the value and gradient at the new point in the state
        f_new = optax.tree.get(opt_state, "value")
        settled = jnp.linalg.norm(optax.tree.get(opt_state, "grad")) < self.tol
        k = state.k + 1
        return _OptaxState(z, opt_state, z, f_new, k, settled | (k >= self.max_steps), settled)

    def terminate(self, state: _OptaxState) -> tuple[Array, Array]:
        return state.done, state.settled

    def point(self, state: _OptaxState) -> tuple[Array, Array, Array]:
        return jnp.sin(state.best_z) ** 2, state.best_f, state.k


class Adam(AbstractMinimiser):
    """optax Adam in the coordinates ``z = logit(w)`` for a fixed number of steps; returns the
    best point seen.  Robust but slow to reach high accuracy; mainly for custom objectives."""

    learning_rate: float = eqx.field(static=True, default=0.05)
    steps: int = eqx.field(static=True, default=3000)
    tol: float = eqx.field(static=True, default=1e-6)

    @property
    def gtol(self) -> float:
        return self.tol

    def init(self, fun: Callable[[Array], Array], w0: Array) -> _OptaxState:
        z0 = _logit(w0)
        no = jnp.asarray(False)
        inf = jnp.asarray(jnp.inf, z0.dtype)
        return _OptaxState(
            z0, _optax_lib().adam(self.learning_rate).init(z0), z0, inf, jnp.asarray(0), no, no
        )

    def step(self, fun: Callable[[Array], Array], state: _OptaxState) -> _OptaxState:
        value, grad = jax.value_and_grad(_in_logits(fun))(state.z)
        better = value < state.best_f
        updates, opt_state = _optax_lib().adam(self.learning_rate).update(grad, state.opt_state, state.z)
        k = state.k + 1
        return _OptaxState(
            _optax_lib().apply_updates(state.z, updates),
            opt_state,
            jnp.where(better, state.z, state.best_z),
            jnp.where(better, value, state.best_f),
            k,
            k >= self.steps,
            jnp.asarray(False),
        )

    def terminate(self, state: _OptaxState) -> tuple[Array, Array]:
        return state.done, state.settled

    def point(self, state: _OptaxState) -> tuple[Array, Array, Array]:
        return jax.nn.sigmoid(state.best_z), state.best_f, state.k


def _logit(w):
    w = jnp.clip(w, 1e-15, 1.0 - 1e-15)
    return jnp.log(w) - jnp.log1p(-w)


def _in_logits(fun: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """``fun`` of box coordinates as a function of the logits ``z`` (``w = sigmoid(z)``)."""

    def fz(z):
        return fun(jax.nn.sigmoid(z))

    return fz


def _in_sine(fun: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """``fun`` of box coordinates as a function of ``z`` with ``w = sin(z)**2``."""

    def fs(z):
        return fun(jnp.sin(z) ** 2)

    return fs
