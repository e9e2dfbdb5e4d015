"""The vectorised float64 sine and cosine (steerjax._trig) against 50-digit mpmath."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from steerjax import _trig


def _angles() -> np.ndarray:
    rng = np.random.default_rng(20261204)
    half_pi = math.pi / 2
    near_quadrants = [
        np.nextafter(k * half_pi, k * half_pi + d * np.arange(1, 4))
        for k in range(-8, 9)
        for d in (1.0, -1.0)
    ]
    return np.concatenate(
        [
            rng.uniform(-math.pi, math.pi, 1500),
            rng.uniform(-1e3, 1e3, 200),
            rng.uniform(-_trig.MAX_ARGUMENT, _trig.MAX_ARGUMENT, 200),
            [_trig.MAX_ARGUMENT, -_trig.MAX_ARGUMENT],
            10.0 ** rng.uniform(-300, 0, 300),
            -(10.0 ** rng.uniform(-20, 0, 100)),
            [5e-324, 2.2e-308, 1e-8, math.pi / 4, np.nextafter(math.pi / 4, 0), np.nextafter(math.pi / 4, 1)],
            [half_pi, math.pi, 3 * half_pi, 2 * math.pi, 355.0, 103993.0],
            *near_quadrants,
        ]
    )


def _ulp_errors(got: np.ndarray, x: np.ndarray, fn) -> np.ndarray:
    """|got - fn(x)| in units in the last place of the exact value (50 digits)."""
    with mpmath.workdps(50):
        out = []
        for g, xi in zip(got, x, strict=True):
            ref = fn(mpmath.mpf(float(xi)))
            ulp = math.ulp(float(ref)) if float(ref) != 0.0 else 5e-324
            out.append(float(abs(mpmath.mpf(float(g)) - ref) / mpmath.mpf(ulp)))
    return np.array(out)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_sincos_within_one_ulp_of_50_digit_values(jit):
    x = _angles()
    fn = jax.jit(_trig.sincos) if jit else _trig.sincos
    s, c = (np.asarray(a) for a in fn(jnp.asarray(x)))
    err_s = _ulp_errors(s, x, mpmath.sin)
    err_c = _ulp_errors(c, x, mpmath.cos)
    # Measured 0.72 ulp at most on these angles (jnp.sin: 0.56); 1 ulp leaves room for the
    # compiler's choice of fused multiply-adds.
    assert err_s.max() <= 1.0, (err_s.max(), x[err_s.argmax()])
    assert err_c.max() <= 1.0, (err_c.max(), x[err_c.argmax()])


def test_sincos_inside_a_larger_jitted_expression():
    """The reduction keeps its digits when XLA fuses it with surrounding arithmetic (a merged
    pi/2 would lose them next to theta_+ + theta_- = pi)."""
    rng = np.random.default_rng(7)
    a = rng.uniform(0, math.pi / 2, 300)
    b = np.nextafter(math.pi - a, 4.0)  # a + b within an ulp or so of pi: sin(a + b) ~ 1e-16

    @jax.jit
    def f(a, b):
        return _trig.sin(a + b) * 3.0 + _trig.cos(2.0 * a)

    got = np.asarray(f(jnp.asarray(a), jnp.asarray(b)))
    with mpmath.workdps(50):
        ref = np.array(
            [
                float(mpmath.sin(mpmath.mpf(float(ai + bi))) * 3 + mpmath.cos(2 * mpmath.mpf(float(ai))))
                for ai, bi in zip(a, b, strict=True)
            ]
        )
    np.testing.assert_allclose(got, ref, rtol=0, atol=4e-16)


def test_special_values():
    x = jnp.array([np.inf, -np.inf, np.nan, np.nextafter(_trig.MAX_ARGUMENT, np.inf), -1e300])
    s, c = _trig.sincos(x)
    assert np.all(np.isnan(np.asarray(s))) and np.all(np.isnan(np.asarray(c)))
    s0, c0 = _trig.sincos(jnp.array([0.0, -0.0]))
    assert np.array_equal(np.signbit(np.asarray(s0)), [False, True])
    assert np.array_equal(np.asarray(c0), [1.0, 1.0])
    assert float(_trig.sin(5e-324)) == 5e-324  # sin x = x below the first ulp of x^3/6


def test_float32_and_integers_use_jnp():
    x32 = jnp.linspace(-4, 4, 101, dtype=jnp.float32)
    s, c = _trig.sincos(x32)
    assert s.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(s), np.asarray(jnp.sin(x32)))
    np.testing.assert_array_equal(np.asarray(c), np.asarray(jnp.cos(x32)))
    s1, c1 = _trig.sincos(1)
    assert s1.dtype == jnp.float64
    assert abs(float(s1) - math.sin(1.0)) <= math.ulp(math.sin(1.0))


def test_derivatives_are_the_other_function():
    x = jnp.asarray(np.random.default_rng(3).uniform(-3, 3, 64))
    ds = jax.vmap(jax.grad(_trig.sin))(x)
    dc = jax.vmap(jax.grad(_trig.cos))(x)
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(jax.jit(_trig.cos)(x)))
    np.testing.assert_array_equal(np.asarray(dc), -np.asarray(jax.jit(_trig.sin)(x)))


def test_concrete_input_uses_jnp_and_traced_input_the_kernels():
    """Op by op (concrete input) one XLA operation is cheaper than the kernel's forty."""
    x = jnp.asarray(np.random.default_rng(4).uniform(-3, 3, 257))
    np.testing.assert_array_equal(np.asarray(_trig.sin(x)), np.asarray(jnp.sin(x)))
    np.testing.assert_array_equal(np.asarray(jax.jit(_trig.sin)(x)), np.asarray(jax.jit(_trig.sincos)(x)[0]))
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda x: _trig.cos(x, False))(x)), np.asarray(jnp.cos(x))
    )

    # Second derivatives of a composite, forward over reverse as the optimiser takes them,
    # against the same expression in jnp (exact derivative: -sin x cos 2x - 4 ... evaluated by
    # JAX's own rules).
    def f(trig, x):
        return trig.sin(x) ** 2 * trig.cos(2.0 * x)

    h = jax.vmap(jax.jacfwd(jax.grad(lambda x: f(_trig, x))))(x)
    h_ref = jax.vmap(jax.jacfwd(jax.grad(lambda x: f(jnp, x))))(x)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=1e-13, atol=1e-14)


def test_both_trig_paths_of_the_closed_forms_agree():
    """E and the moments from rates with ``fast_trig`` True (this module) and False (XLA's
    sin/cos, the optimiser's rates) on random stable designs: the same to a few ulp."""
    import steerjax as sj
    from steerjax.model._moments import moments
    from steerjax.model._steering import steering_from_rates

    rng = np.random.default_rng(5)
    n = 2000
    design = sj.Design(
        theta_plus=rng.uniform(0.3, math.pi / 2, n),
        theta_minus=rng.uniform(0.3, math.pi / 2, n),
        C_plus=10.0 ** rng.uniform(0, 3, n),
        C_minus=10.0 ** rng.uniform(0, 3, n),
        eps=rng.uniform(0, 0.5, n),
    )
    fast = sj.cascade_rates(sj.HOT, design, fast_trig=True)
    assert fast.fast_trig

    def xla_trig(o):
        return sj.model.OscillatorRates(
            Gamma=o.Gamma,
            theta=o.theta,
            gamma=o.gamma,
            gamma0=o.gamma0,
            gamma_tilde0=o.gamma_tilde0,
            fast_trig=False,
        )

    xla = sj.model.CascadeRates(minus=xla_trig(fast.minus), plus=xla_trig(fast.plus), eps=fast.eps)
    assert not xla.fast_trig and not sj.cascade_rates(sj.HOT, design).fast_trig  # the default
    stable = np.asarray(fast.stable)
    assert stable.sum() > 500
    # Under jit: concrete input would take jnp.sin either way.
    E_fast, E_xla = jax.jit(steering_from_rates)(fast), jax.jit(steering_from_rates)(xla)
    assert not np.array_equal(np.asarray(E_fast[0]), np.asarray(E_xla[0]))  # two paths, not one
    for a, b in zip(E_fast, E_xla, strict=True):
        np.testing.assert_allclose(np.asarray(a)[stable], np.asarray(b)[stable], rtol=2e-14)
    mf, mx = jax.jit(moments)(fast), jax.jit(moments)(xla)
    for name in ("var_plus", "var_minus", "cov"):
        np.testing.assert_allclose(
            np.asarray(getattr(mf, name))[stable], np.asarray(getattr(mx, name))[stable], rtol=1e-12
        )
