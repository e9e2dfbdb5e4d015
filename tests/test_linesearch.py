"""The parallel line search of the optax L-BFGS solver (steerjax.optim._linesearch) and the
solver's two line searches on small functions with known minima."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import steerjax as sj
from steerjax.optim._linesearch import scale_by_parallel_linesearch


def test_lbfgs_minimises_rosenbrock_and_an_ill_conditioned_quadratic():
    # optax's L-BFGS has no safeguard against a pair of negative curvature; the solver drops its
    # memory after such a step (the line search's positive_curvature), which Rosenbrock needs
    solver = sj.LBFGS()

    def rosenbrock(w):
        x = 4.0 * w - 2.0  # the box [0, 1]^2 is x in [-2, 2]^2; minimum at x = (1, 1)
        return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2

    w, f, gnorm, steps, settled = jax.jit(lambda w0: solver.run(rosenbrock, w0))(jnp.asarray([0.2, 0.75]))
    np.testing.assert_allclose(np.asarray(w), [0.75, 0.75], atol=1e-8)
    assert bool(settled) and float(f) < 1e-15 and int(steps) < 100

    scales = jnp.asarray([1.0, 1e2, 1e4])

    def quadratic(w):
        return 0.5 * jnp.sum(scales * (w - 0.25) ** 2)

    w, f, gnorm, steps, settled = jax.jit(lambda w0: solver.run(quadratic, w0))(jnp.full(3, 0.6))
    np.testing.assert_allclose(np.asarray(w), 0.25, atol=1e-10)
    assert bool(settled) and int(steps) < 60


def test_parallel_line_search_shrinks_after_a_failure_and_grows_after_a_short_step():
    ls = scale_by_parallel_linesearch(optax, step_sizes=(1.0, 0.3, 0.05))

    def fun(x):
        return jnp.sum(x**2)

    x = jnp.asarray([1.0, -2.0])
    value, grad = jax.value_and_grad(fun)(x)
    # an ascent direction: no trial is accepted, the point stays, the next trials are 40x shorter
    updates, state = ls.update(grad, ls.init(x), x, value=value, grad=grad, value_fn=fun)
    assert float(state.learning_rate) == 0.0 and np.all(np.asarray(updates) == 0.0)
    assert float(state.value) == float(value) and float(state.scale) == pytest.approx(0.025)

    # a concave stretch: every trial decreases f, none meets the curvature condition
    def bump(x):
        return jnp.cos(x[0])

    x = jnp.asarray([1e-3])
    value, grad = jax.value_and_grad(bump)(x)
    updates, state = ls.update(-grad, ls.init(x), x, value=value, grad=grad, value_fn=bump)
    assert float(state.learning_rate) == 1.0 and float(state.value) < float(value)
    assert float(state.scale) == 16.0 and not bool(state.positive_curvature)


@pytest.mark.parametrize("linesearch", ["parallel", "zoom"])
def test_lbfgs_reaches_an_optimum_on_a_bound(linesearch):
    # minimum at w = (0.3, 0, 0.7): on the lower bound of the second coordinate
    def fun(w):
        return (w[0] - 0.3) ** 2 + 2.0 * w[1] + 100.0 * (w[2] - 0.7) ** 2 + 1.0

    solver = sj.LBFGS(linesearch=linesearch)
    w, f, gnorm, steps, settled = jax.jit(lambda w0: solver.run(fun, w0))(jnp.asarray([0.9, 0.6, 0.1]))
    np.testing.assert_allclose(np.asarray(w), [0.3, 0.0, 0.7], atol=1e-9)
    assert float(f) == pytest.approx(1.0, rel=1e-15, abs=0)
    assert bool(settled) and float(gnorm) < 1e-8 and int(steps) < 60


def test_lbfgs_rejects_an_unknown_line_search():
    with pytest.raises(ValueError, match="linesearch"):
        sj.LBFGS(linesearch="backtracking")
