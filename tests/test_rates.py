"""Derived rates of the cascade (Sec. II) against 50-digit evaluations of their definitions."""

from __future__ import annotations

import math

import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import steerjax as sj
from reference import DPS, random_stable_design, reference_of, theta_from_damping_ratio_mp

SEED = 7301
U64 = np.finfo(np.float64).eps
U32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def designs():
    rng = np.random.default_rng(SEED)
    return [random_stable_design(rng, near_edge=bool(i % 2)) for i in range(200)]


def _batch(designs):
    def col(key):
        return jnp.asarray(np.array([d[key] for d in designs]))

    thermal = sj.Thermal(col("gamma0_plus"), col("nbar_plus"), col("gamma0_minus"), col("nbar_minus"))
    design = sj.Design(col("theta_plus"), col("theta_minus"), col("C_plus"), col("C_minus"), col("eps"))
    return thermal, design


def _mp_rates(d, side):
    """Gamma, Gamma_B, Gamma_P, gamma of one oscillator at 50 digits from the design dict."""
    with mp.workdps(DPS):
        g0 = mp.mpf(d[f"gamma0_{side}"])
        G = mp.mpf(d[f"C_{side}"]) * g0 * (mp.mpf(d[f"nbar_{side}"]) + mp.mpf(1) / 2)
        th = mp.mpf(d[f"theta_{side}"])
        GB, GP = G * mp.sin(th) ** 2, G * mp.cos(th) ** 2
        return {"Gamma": G, "Gamma_B": GB, "Gamma_P": GP, "gamma": g0 + GB - GP, "gamma0": g0}


def test_beam_splitter_plus_down_conversion_is_total(designs):
    """Gamma_B + Gamma_P = Gamma and each part matches Gamma sin^2 / cos^2 at 50 digits."""
    r = sj.cascade_rates(*_batch(designs))
    for side, osc in (("plus", r.plus), ("minus", r.minus)):
        ref = [_mp_rates(d, side) for d in designs]
        G = np.array([float(x["Gamma"]) for x in ref])
        np.testing.assert_allclose(osc.Gamma, G, rtol=4 * U64)
        np.testing.assert_allclose(osc.Gamma_B + osc.Gamma_P, G, rtol=8 * U64)
        # each part to rounding relative to Gamma (a part can be tiny near theta = 0 or pi/2)
        for name in ("Gamma_B", "Gamma_P"):
            want = np.array([float(x[name]) for x in ref])
            assert np.all(np.abs(np.asarray(getattr(osc, name)) - want) <= 8 * U64 * G), name


def test_net_damping_against_50_digits(designs):
    """gamma = gamma0 + Gamma_B - Gamma_P: error ~ rounding of gamma0 + Gamma (not of Gamma/gamma).

    Near the client's edge gamma is a tiny difference of two large rates; the library's
    ``cos_two_theta`` keeps the absolute error at the level of rounding gamma0 and Gamma.
    """
    r = sj.cascade_rates(*_batch(designs))
    for side, osc in (("plus", r.plus), ("minus", r.minus)):
        ref = [_mp_rates(d, side) for d in designs]
        want = np.array([float(x["gamma"]) for x in ref])
        scale = np.array([float(x["gamma0"] + x["Gamma"]) for x in ref])
        got = np.asarray(osc.gamma)
        assert np.all(got > 0)
        assert np.max(np.abs(got - want) / scale) <= 8 * U64, side
        np.testing.assert_allclose(osc.damping_ratio, want / scale, rtol=1e-6)  # rho down to 1e-12
        with_room = want / scale > 1e-3
        np.testing.assert_allclose(got[with_room], want[with_room], rtol=1e-12)


def test_R_K_f_against_definitions(designs):
    """R = sqrt(G-B G+P) - sqrt(G+B G-P) (Sec. II), K = sqrt(G+ G-) sin(th+ + th-) (Eq. 4), f = 2R/gamma+."""
    r = sj.cascade_rates(*_batch(designs))
    R_want, K_want, f_want, scale = [], [], [], []
    for d in designs:
        p, m = _mp_rates(d, "plus"), _mp_rates(d, "minus")
        with mp.workdps(DPS):
            R = mp.sqrt(m["Gamma_B"] * p["Gamma_P"]) - mp.sqrt(p["Gamma_B"] * m["Gamma_P"])
            s = mp.sqrt(p["Gamma"] * m["Gamma"])
            K = s * mp.sin(mp.mpf(d["theta_plus"]) + mp.mpf(d["theta_minus"]))
            R_want.append(float(R))
            K_want.append(float(K))
            f_want.append(float(2 * R / p["gamma"]))
            scale.append(float(s))
        assert abs(float(R) - float(reference_of(d)["R"])) <= 1e-30 * float(s)  # same definition
    scale = np.array(scale)
    assert np.all(np.abs(np.asarray(r.R) - R_want) <= 8 * U64 * scale)
    assert np.all(np.abs(np.asarray(r.K) - K_want) <= 8 * U64 * scale)
    f_want = np.array(f_want)
    # f inherits the error of gamma_+ (small damping ratios of the server allowed): 1e-9 here
    np.testing.assert_allclose(r.f, f_want, rtol=1e-9, atol=1e-12 * np.abs(f_want).max())


def test_stability_predicate_equals_cos_criterion():
    """``is_stable`` <=> cos 2 theta < 1/(C (nbar + 1/2)) for both oscillators (decided at 50 digits).

    Angles are drawn uniformly over [0, pi/2] and also within a relative 1e-9 of the edge on
    either side, so both outcomes are well represented.
    """
    rng = np.random.default_rng(SEED + 1)
    rows = []
    for _ in range(400):
        d = random_stable_design(rng)
        for side in ("plus", "minus"):
            y = d[f"C_{side}"] * (d[f"nbar_{side}"] + 0.5)
            if y > 1 and rng.uniform() < 0.5:
                edge = 0.5 * math.acos(1.0 / y)
                d[f"theta_{side}"] = edge * (1 + rng.choice([-1, 1]) * 10 ** rng.uniform(-9, -3))
            else:
                d[f"theta_{side}"] = float(rng.uniform(0, math.pi / 2))
        rows.append(d)
    got = np.asarray(sj.is_stable(*_batch(rows)))
    want = []
    with mp.workdps(DPS):
        for d in rows:
            ok = True
            for side in ("plus", "minus"):
                y = mp.mpf(d[f"C_{side}"]) * (mp.mpf(d[f"nbar_{side}"]) + mp.mpf(1) / 2)
                ok = ok and mp.cos(2 * mp.mpf(d[f"theta_{side}"])) < 1 / y
            want.append(ok)
    want = np.array(want)
    assert 50 < want.sum() < len(want) - 50
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("dtype", "ulps"), [(np.float64, 4), (np.float32, 4)])
def test_cos_two_theta_relative_accuracy_near_quarter_pi(dtype, ulps):
    """cos 2 theta keeps full relative precision near pi/4.

    The textbook route sin^2 theta - cos^2 theta (i.e. Gamma_B - Gamma_P) loses it all there.
    (XLA's own ``cos(2 theta)`` is also accurate on CPU, thanks to its argument reduction.)
    """
    rng = np.random.default_rng(SEED + 2)
    u = float(np.finfo(dtype).eps)
    offsets = np.concatenate([10 ** rng.uniform(np.log10(u) - 1, -1, 300), [0.0]])
    theta = (np.pi / 4 + np.concatenate([offsets, -offsets])).astype(dtype)
    theta = np.concatenate([theta, rng.uniform(0, np.pi / 2, 100).astype(dtype)])
    with mp.workdps(DPS):
        want = np.array([float(mp.cos(2 * mp.mpf(float(t)))) for t in theta])
    got = np.asarray(sj.model.cos_two_theta(jnp.asarray(theta)), dtype=float)
    assert sj.model.cos_two_theta(jnp.asarray(theta)).dtype == dtype
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
    assert rel.max() <= ulps * u, rel.max()
    # the difference of squares is far worse near pi/4 (this is what the library avoids)
    t = jnp.asarray(theta)
    naive = np.asarray(jnp.cos(t) ** 2 - jnp.sin(t) ** 2, dtype=float)
    close = np.abs(want) < 1e3 * u
    assert np.max(np.abs(naive - want)[close] / np.abs(want)[close]) > 1e-2


def test_damping_ratio_round_trip(designs):
    """theta -> rho -> theta and rho -> theta -> rho through ``oscillator_rates_from_damping``.

    The map rho -> theta has derivative (gamma0 + Gamma)/(2 Gamma sin 2 theta), which is
    singular at theta = pi/2; the angle is therefore compared where sin 2 theta > 1e-3.
    """
    thermal, design = _batch(designs)
    r = sj.cascade_rates(thermal, design)
    back = sj.model.oscillator_rates_from_damping(
        thermal.gamma0_minus_hz, thermal.nbar_minus, design.C_minus, r.minus.damping_ratio
    )
    np.testing.assert_allclose(back.gamma, r.minus.gamma, rtol=4 * U64)
    np.testing.assert_allclose(back.Gamma, r.minus.Gamma, rtol=4 * U64)
    np.testing.assert_allclose(back.Gamma_B + back.Gamma_P, back.Gamma, rtol=8 * U64)
    sin2 = np.sin(2 * np.asarray(design.theta_minus))
    ok = sin2 > 1e-3
    assert np.max(np.abs(np.asarray(back.theta) - np.asarray(design.theta_minus))[ok]) <= 1e-12

    # rho -> theta against the 50-digit angle (rho down to 1e-12), and back
    rho = np.array([d["rho_minus"] for d in designs if d["rho_minus"] is not None])
    sub = [d for d in designs if d["rho_minus"] is not None]
    g0, nb, C = (
        jnp.asarray(np.array([d[k] for d in sub])) for k in ("gamma0_minus", "nbar_minus", "C_minus")
    )
    osc = sj.model.oscillator_rates_from_damping(g0, nb, C, jnp.asarray(rho))
    want = np.array(
        [
            float(
                theta_from_damping_ratio_mp(d["rho_minus"], d["C_minus"], d["gamma0_minus"], d["nbar_minus"])
            )
            for d in sub
        ]
    )
    assert np.max(np.abs(np.asarray(osc.theta) - want)) <= 1e-14
    np.testing.assert_allclose(osc.damping_ratio, rho, rtol=4 * U64)
    again = sj.model.oscillator_rates(g0, nb, C, osc.theta).damping_ratio
    # through the angle, rho is only as good as the rounding of theta allows: ~u Gamma/(gamma0+Gamma)/rho
    np.testing.assert_allclose(again, rho, rtol=1e-3)
    np.testing.assert_allclose(again[rho > 1e-6], rho[rho > 1e-6], rtol=1e-9)


def test_damping_ratio_is_one_at_half_pi_and_bare_variance():
    """theta = pi/2: gamma = gamma0 + Gamma (rho = 1); bare variance N/gamma of Eq. (9)."""
    th = sj.HOT
    C = jnp.array([0.5, 5.0, 500.0])
    r = sj.cascade_rates(th, sj.Design(math.pi / 2, math.pi / 2, C, C))
    np.testing.assert_allclose(r.plus.damping_ratio, 1.0, rtol=4 * U64)
    gt = 0.1 * (1e5 + 0.5)
    np.testing.assert_allclose(r.plus.bare_variance, (C * gt / 2 + gt) / (0.1 + C * gt), rtol=4 * U64)
    np.testing.assert_allclose(r.minus.N, C * gt / 2 + gt, rtol=4 * U64)
