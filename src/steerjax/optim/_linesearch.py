"""A line search for optax's L-BFGS that tries all its step sizes at once (no inner loop).

optax's zoom line search (:func:`optax.scale_by_zoom_linesearch`) is a ``lax.while_loop``
whose iteration takes a ``lax.cond`` between bracketing and zooming.  In the search pool
(``vmap`` over lanes) the loop runs until the slowest lane's line search is done, and each
``cond`` becomes a ``select`` that computes both branches: every lane pays for the longest
line search of all lanes, twice over.  Measured on 32 Fig. 4 problems (hot set, eps = 0, 128
lanes): 1.9 line-search iterations per L-BFGS step on average, 9.7 for the slowest lane of a
pool iteration.  :func:`scale_by_parallel_linesearch` evaluates the objective and its gradient
at a fixed set of step sizes in one ``vmap`` and keeps the first (in the given order) that
satisfies the strong Wolfe conditions, else the lowest value, and carries what one set of
trials does not settle over to the next update (a step-size scale).  It plugs into
``optax.lbfgs(linesearch=...)`` and leaves the value and gradient at the new point in its state,
as optax's line searches do.  optax's L-BFGS stores every pair it is given, so a caller should
drop the memory after a step without ``positive_curvature`` (as :class:`~steerjax.LBFGS` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array


class ParallelLinesearchState(NamedTuple):
    """``learning_rate``: the step size taken (0: no trial was accepted, the point stays);
    ``value`` and ``grad``: the objective and its gradient at the new point;
    ``positive_curvature``: the step taken has ``<step, gradient change> > 0``, the condition
    for the pair that L-BFGS stores to keep its inverse-Hessian estimate positive definite;
    ``scale``: the factor on the step sizes of the next update (see
    :func:`scale_by_parallel_linesearch`)."""

    learning_rate: Array
    value: Array
    grad: Any
    positive_curvature: Array
    scale: Array


def scale_by_parallel_linesearch(
    optax,
    step_sizes: Sequence[float] = (1.0, 0.3, 0.05),
    max_step: float = float("inf"),
    slope_rtol: float = 1e-4,
    curv_rtol: float = 0.9,
    approx_dec_rtol: float = 1e-6,
    grow_factor: float = 16.0,
    shrink_factor: float | None = None,
):
    """An ``optax.GradientTransformationExtraArgs`` that scales the update (a descent direction
    ``u``) by one of a few step sizes, all evaluated at once; ``optax`` is the module (imported
    lazily by the caller).

    The trials are ``scale * step_sizes``, all shrunk in proportion where the longest would
    move a coordinate by more than ``max_step``, and, when ``max_step`` is finite, the step
    ``r = min(1, scale) * max_step / max|u|`` (the largest coordinate moves by ``max_step``).
    The step taken is the first trial, in this order, that satisfies the strong Wolfe
    conditions: sufficient decrease -- Armijo's, or near a minimum (value within
    ``approx_dec_rtol * |f|``) Hager and Zhang's approximate form -- and
    ``|slope(t)| <= curv_rtol * |slope(0)|``; these are the tests and the defaults of
    :func:`optax.scale_by_zoom_linesearch`.  If none does, the trial with the lowest value is
    taken when it satisfies sufficient decrease or lowers the objective; else none (step
    size 0).  ``scale`` (1 at first) carries the rest of an ordinary line search over to the
    next update, so that it costs iterations of the caller's loop only where one line search
    of fixed trials is not enough: after a step without the Wolfe conditions whose slope is
    still below ``curv_rtol`` times the initial one (too short: a concave stretch, or the
    scaled gradient of a first step) it grows by ``grow_factor``; after no step it shrinks by
    ``shrink_factor`` (default: half the smallest step size, so the trials continue below the
    last ones); else it is back to 1.
    """
    shrink_factor = min(step_sizes) / 2 if shrink_factor is None else shrink_factor

    def vdot(a, b):
        return optax.tree.real(optax.tree.vdot(a, b))

    def init_fn(params) -> ParallelLinesearchState:
        dtype = jnp.real(jnp.empty((), jax.tree.leaves(params)[0].dtype)).dtype
        inf = jnp.asarray(jnp.inf, dtype)
        one = jnp.asarray(1.0, dtype)
        return ParallelLinesearchState(one, inf, optax.tree.zeros_like(params), jnp.asarray(True), one)

    def update_fn(updates, state, params, *, value, grad, value_fn: Callable, **extra_args):
        scale = state.scale
        ts = scale * jnp.asarray(step_sizes, dtype=scale.dtype)
        longest = optax.tree.max(jax.tree.map(jnp.abs, updates))
        reach = max_step / jnp.where(longest > 0, longest, 1.0)  # step that moves max_step
        ts = ts * jnp.minimum(1.0, reach / jnp.max(ts))
        if max_step != float("inf"):
            ts = jnp.concatenate([ts, (jnp.minimum(1.0, scale) * reach)[None].astype(ts.dtype)])
        slope = vdot(updates, grad)

        def at(t):
            trial = jax.tree.map(lambda p, u: p + t * u, params, updates)
            v, g = jax.value_and_grad(value_fn)(trial, **extra_args)
            return v, g, vdot(g, updates)

        values, grads, slopes = jax.vmap(at)(ts)
        values = jnp.where(jnp.isnan(values), jnp.inf, values)
        near = values <= value + approx_dec_rtol * jnp.abs(value)
        approx = near & (slopes <= (2 * slope_rtol - 1) * slope)
        sufficient = (slope < 0) & ((values <= value + slope_rtol * ts * slope) | approx)
        wolfe = sufficient & (jnp.abs(slopes) <= curv_rtol * jnp.abs(slope))
        best = jnp.where(jnp.any(wolfe), jnp.argmax(wolfe), jnp.argmin(values))
        accept = sufficient[best] | (values[best] < value)
        t = jnp.where(accept, ts[best], 0.0)
        new_value = jnp.where(accept, values[best], value)
        new_grad = jax.tree.map(lambda gs, g: jnp.where(accept, gs[best], g), grads, grad)
        # accepted without the curvature condition, the slope still steep: the step was too short
        short = accept & ~wolfe[best] & (slopes[best] < curv_rtol * slope)
        new_scale = jnp.where(accept, jnp.where(short, scale * grow_factor, 1.0), scale * shrink_factor)
        new_state = ParallelLinesearchState(
            t,
            new_value,
            new_grad,
            accept & (slopes[best] > slope),
            new_scale.astype(scale.dtype),
        )
        return optax.tree.scale(t, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
