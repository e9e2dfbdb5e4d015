"""Problem construction without compilation, the conditional measurement as a sub-module, the
grouped settings (SearchOptions, ExecutionOptions) and pytree objectives (issue 10)."""

from __future__ import annotations

import logging

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
from steerjax.optim._optimize import _unconditional_twin

jax.config.update("jax_enable_x64", True)


def _assert_same(a, b) -> None:
    """Equal pytrees, leaf by leaf, bit for bit (NaN equal to NaN)."""
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _compilations(caplog, thunk) -> list[str]:
    """The 'Compiling ...' log records of ``thunk()`` (jax_log_compiles)."""
    caplog.clear()
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        thunk()
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]


@pytest.mark.parametrize("coupling", ["asymmetric", "symmetric"])
def test_problem_compiles_nothing_for_a_new_batch_shape(caplog, coupling):
    hot = sj.HOT  # built on access (scalar arrays: compiled once per process, not per shape)
    C = np.linspace(1.0, 100.0, 43)  # a batch shape no other test uses
    kwargs = dict(coupling=coupling, theta_minus_bounds=(0.1, 1.2), min_damping_ratio=1e-4)
    assert _compilations(caplog, lambda: sj.Problem(hot, C, **kwargs)) == []
    cond = dict(conditional=True, efficiency=np.full(43, 0.5))
    assert _compilations(caplog, lambda: sj.Problem(hot, C, **cond)) == []
    with pytest.raises(ValueError, match="unstable region"):  # the check still runs (in numpy)
        sj.Problem(sj.HOT, np.full(43, 1e4), theta_minus_bounds=(0.0, 0.01), theta_plus_bounds=(0.0, 0.01))


def test_problem_built_inside_jit_matches_the_concrete_one():
    C = np.array([2.0, 10.0])
    concrete = sj.Problem(sj.HOT, C, min_damping_ratio=1e-3)
    traced = jax.jit(lambda c: sj.Problem(sj.HOT, c, min_damping_ratio=1e-3))(jnp.asarray(C))
    for a, b in zip(jax.tree_util.tree_leaves(concrete), jax.tree_util.tree_leaves(traced), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_measurement_is_a_sub_module_and_the_twin_a_plain_problem():
    p = sj.Problem(sj.HOT, [10.0, 3.0], conditional=True, efficiency=0.8, lo_phase_bounds=(0.1, 1.0))
    assert p.conditional and isinstance(p.measurement, sj.optim.Measurement)
    np.testing.assert_array_equal(np.asarray(p.efficiency), [0.8, 0.8])
    np.testing.assert_array_equal(np.asarray(p.lo_phase_bounds), [[0.1, 1.0]] * 2)
    twin = _unconditional_twin(p)
    plain = sj.Problem(sj.HOT, [10.0, 3.0])
    assert not twin.conditional and twin.n_variables == p.n_variables - 1
    assert jax.tree_util.tree_structure(twin) == jax.tree_util.tree_structure(plain)
    assert eqx.tree_equal(twin, plain, typematch=True)
    # an unconditional problem reads as efficiency 1 and the full phase period
    np.testing.assert_array_equal(np.asarray(plain.efficiency), [1.0, 1.0])
    np.testing.assert_allclose(np.asarray(plain.lo_phase_bounds), [[0.0, np.pi]] * 2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: sj.SearchOptions(n_starts=0), r"n_starts = 0 .*\[1, inf\)"),
        (lambda: sj.SearchOptions(n_starts=1.5), "n_starts = 1.5"),
        (lambda: sj.SearchOptions(seed=0.5), r"seed = 0\.5 is outside the allowed range"),
        (
            lambda: sj.SearchOptions(seed=2**63),
            r"seed = 9223372036854775808 is outside the allowed range \[-9223",
        ),
        (lambda: sj.ExecutionOptions(block_size=0), r"block_size = 0 .*\[1, inf\)"),
        (lambda: sj.ExecutionOptions(lanes=-2), r"lanes = -2 .*\[1, inf\)"),
        (lambda: sj.ExecutionOptions(devices=[]), "devices is empty"),
        (lambda: sj.ExecutionOptions(devices=["cpu"]), "'cpu' is not a jax.Device"),
        (lambda: sj.ExecutionOptions(progress=3), "progress = 3 must be None or callable"),
    ],
)
def test_options_are_validated_on_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_solver_that_is_not_one_is_a_type_error():
    with pytest.raises(TypeError, match="is not a solver"):
        sj.SearchOptions(solver="newton")
    with pytest.raises(TypeError, match="is not a solver"):
        sj.optimize(sj.Problem(sj.HOT, 10.0), solver=object())


def test_shortcut_keywords_override_the_option_objects():
    p = sj.Problem(sj.HOT, [2.0, 10.0])
    by_objects = sj.optimize(p, sj.SearchOptions(n_starts=3, seed=2), sj.ExecutionOptions(lanes=4))
    by_keywords = sj.optimize(p, n_starts=3, seed=2, lanes=4)
    overridden = sj.optimize(
        p, sj.SearchOptions(n_starts=7, seed=2), sj.ExecutionOptions(lanes=9), n_starts=3, lanes=4
    )
    for other in (by_keywords, overridden):
        _assert_same(by_objects, other)
    assert by_objects.start_values.shape == (2, 3)
    with pytest.raises(ValueError, match="search = .* must be a steerjax.SearchOptions"):
        sj.optimize(p, sj.ExecutionOptions())


def test_sweeps_take_the_option_objects():
    seen = []
    sweep = sj.optimal_sweep(
        sj.HOT,
        [2.0, 10.0],
        search=sj.SearchOptions(n_starts=3),
        execution=sj.ExecutionOptions(progress=lambda done, total: seen.append((done, total))),
    )
    direct = sj.optimize(sj.Problem(sj.HOT, [2.0, 10.0]), n_starts=3)
    _assert_same(sweep.result, direct)
    assert seen and seen[-1] == (2, 2)


def _E_plus(scale, result, design):
    """E_{+|-} plus zero times an array parameter (a pytree objective)."""
    _E_plus.traces += 1
    return result.E_plus_given_minus + scale * 0.0


_E_plus.traces = 0


def test_pytree_objective_is_compiled_once_for_new_parameter_values():
    p = sj.Problem(sj.HOT, [2.0, 10.0])
    default = sj.optimize(p, n_starts=3)
    first = sj.optimize(
        sj.Problem(sj.HOT, [2.0, 10.0], objective=jax.tree_util.Partial(_E_plus, jnp.asarray(1.0))),
        n_starts=3,
    )
    traces = _E_plus.traces
    assert traces > 0
    again = sj.optimize(
        sj.Problem(sj.HOT, [2.0, 10.0], objective=jax.tree_util.Partial(_E_plus, jnp.asarray(2.5))),
        n_starts=3,
    )
    assert _E_plus.traces == traces  # new parameter values: the compiled search is reused
    for res in (first, again):
        np.testing.assert_allclose(np.asarray(res.value), np.asarray(default.value), rtol=1e-12)
        np.testing.assert_allclose(
            np.asarray(res.design.theta_minus), np.asarray(default.design.theta_minus), rtol=1e-9
        )


class _Weighted(eqx.Module):
    """An equinox Module objective: w E_{+|-} + (1 - w) E_{-|+} with an array weight."""

    weight: jax.Array

    def __call__(self, result, design):
        return self.weight * result.E_plus_given_minus + (1.0 - self.weight) * result.E_minus_given_plus


def test_module_objective_with_a_batch_keeps_its_arrays_whole():
    C = [2.0, 10.0, 100.0]
    res = sj.optimize(sj.Problem(sj.HOT, C, objective=_Weighted(jnp.asarray(1.0))), n_starts=3)
    default = sj.optimize(sj.Problem(sj.HOT, C), n_starts=3)
    np.testing.assert_allclose(np.asarray(res.value), np.asarray(default.value), rtol=1e-12)
    sweep = sj.optimal_sweep(
        sj.HOT, C, objective=_Weighted(jnp.asarray(1.0)), search=sj.SearchOptions(n_starts=3)
    )
    assert list(sweep.table()["direction"]) == ["custom"] * 3
