"""Fig. 9 (``experiments/fig9_price_of_robustness.py``, beyond the paper): the phase-robust
optima's data on a tiny grid, checked against independent evaluations on dense phase grids, the
plot and the files.  The robust optimiser itself is tested in test_robust_optimize.py; both
share its compilation when run in one session."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

import steerjax as sj
import steerjax.plotting  # noqa: F401  (sj.plotting: matplotlib is not imported by steerjax)

SMALL = dict(C_minus_cases=(10.0, 100.0), delta_range=(1e-4, 1e-2), n_delta=3, n_phi=25)
"""Two C_-, three deltas (1e-4, 1e-3, 1e-2 rad), a coarse phi grid: 8 robust optima in all."""


@pytest.fixture(scope="module")
def fig9():
    (script,) = [s for s in sj.plotting.discover_figures() if s.number == 9]
    return sj.plotting.load_figure_module(script)


@pytest.fixture(scope="module")
def data(fig9):
    return fig9.compute(**SMALL)


def _designs(table, phi=0.0) -> sj.Design:
    fields = ("theta_plus", "theta_minus", "C_plus", "C_minus")
    return sj.Design(**{f: np.asarray(table[f], dtype=float) for f in fields}, phi=phi)


@jax.jit
def _E_jit(design):
    return sj.steering_at_phase(sj.HOT, design, on_invalid="nan")[0]


def test_worst_case_against_delta(data):
    """Panel (b): the price of robustness is positive, grows with delta, and the robust optimum
    beats the nominal optimum's own worst case; E_worst is the maximum a dense phase grid finds."""
    wc = data["worst_case"]
    assert wc["E_worst"].shape == (6,)
    assert np.all(wc["converged"])
    for key in ("E_worst", "E_nominal", "E_star", "E_worst_of_nominal_optimum", "damping_ratio_minus"):
        assert np.all(np.isfinite(wc[key])), key
    # E* <= nominal E of the robust design <= its worst case <= the nominal optimum's worst case
    assert np.all(wc["E_nominal"] >= wc["E_star"] * (1 - 1e-12))
    assert np.all(wc["E_worst"] >= wc["E_nominal"])
    assert np.all(wc["E_worst"] <= wc["E_worst_of_nominal_optimum"])
    assert np.all(wc["E_worst_of_nominal_optimum"] > 1e3)  # the knife-edge optimum fails at 0.1 mrad
    np.testing.assert_allclose(wc["price"], wc["E_worst"] / wc["E_star"] - 1, rtol=1e-12)
    for c in SMALL["C_minus_cases"]:
        t = sj.analysis.table_rows(wc, C_minus=c)
        np.testing.assert_allclose(t["delta"], [1e-4, 1e-3, 1e-2], rtol=1e-12)
        assert np.all(np.diff(t["E_worst"]) > 0) and np.all(np.diff(t["damping_ratio_minus"]) > 0)
        assert len(set(t["E_star"])) == 1
    # the robust optimum moves the client off its stability edge
    assert np.all(wc["damping_ratio_minus"] > 1e-5)
    # independent check of E_worst: 2001 phases in [-delta, delta] (ends included)
    s = np.linspace(-1.0, 1.0, 2001)
    phi = wc["delta"][:, None] * s[None, :]
    E = np.asarray(_E_jit(_designs({k: v[:, None] for k, v in wc.items()}, phi)))
    np.testing.assert_allclose(E.max(axis=1), wc["E_worst"], rtol=1e-6)
    np.testing.assert_allclose(E[:, s.size // 2], wc["E_nominal"], rtol=1e-9)


def test_phase_panel(data):
    """Panel (a): the curves' maxima over the tolerance intervals are the optima's E_worst, the
    designs are those of panel (b), and the nominal optimum stops steering below 1 microrad."""
    phase, rows = data["phase"], data["designs_a"]
    assert [(r["design"], r["delta"]) for r in rows] == [("nominal", 0.0), ("robust", 1e-3), ("robust", 1e-2)]
    wc = data["worst_case"]
    E_star_10 = sj.analysis.table_rows(wc, C_minus=10.0)["E_star"][0]
    for r in rows:
        m = (phase["design"] == r["design"]) & (phase["delta"] == r["delta"])
        phi, E = phase["phi"][m], phase["E"][m]
        assert np.all(np.diff(phi) > 0) and phi[0] == -phi[-1] and 0.0 in phi
        assert np.all(np.isfinite(E))
        np.testing.assert_allclose(E[phi == 0.0], r["E_nominal"], rtol=1e-9)
        # E is even in phi and grows with |phi| on this grid
        np.testing.assert_allclose(E, E[::-1], rtol=1e-6)
        right = E[phi >= 0]
        assert np.all(np.diff(right) >= -1e-12 * right[1:])
        if r["design"] == "nominal":
            assert r["E_nominal"] == E_star_10
            edge = r["steering_lost_at_phi"]["positive"]
            assert 1e-7 < edge < 1e-5
            assert edge == pytest.approx(r["steering_lost_at_phi"]["negative"], rel=1e-9)
            e_edge = sj.steering_at_phase(sj.HOT, _designs({k: np.asarray(v) for k, v in r.items()}, edge))[0]
            assert float(e_edge) == pytest.approx(sj.STEERING_BOUND, rel=1e-6)
            continue
        inside = np.abs(phi) <= r["delta"]
        assert np.isin([-r["delta"], r["delta"]], phi).all()
        np.testing.assert_allclose(E[inside].max(), r["E_worst"], rtol=1e-9)
        (k,) = np.nonzero(np.isclose(wc["delta"], r["delta"], rtol=1e-12) & (wc["C_minus"] == 10.0))[0]
        np.testing.assert_allclose(r["E_worst"], wc["E_worst"][k], rtol=1e-6)
        assert r["E_worst"] < sj.STEERING_BOUND


def test_plot_and_files(fig9, data, tmp_path):
    meta = fig9.main(tmp_path, **SMALL)  # computes again (the compilations are done) and plots
    for suffix in ("png", "pdf", "json"):
        assert (tmp_path / f"fig9.{suffix}").stat().st_size > 0
    rows = (tmp_path / "fig9_worst_case.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[0].startswith("C_minus,delta,E_worst,E_nominal,E_star,")
    rows = (tmp_path / "fig9_phase.csv").read_text().splitlines()
    assert len(rows) == 1 + data["phase"]["phi"].size and rows[0] == "design,delta,phi,E"
    written = json.loads((tmp_path / "fig9.json").read_text())
    assert written["figure"] == "fig9" and written["results"]["curves"] == meta["results"]["curves"]
    assert [c["C_minus"] for c in written["results"]["curves"]] == [10.0, 100.0]


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"n_delta": 1}, "n_delta"),
        ({"delta_range": (1e-2, 1e-3)}, "delta_range"),
        ({"phase_tolerances": (-1e-3,)}, "phase_tolerances"),
        ({"phase_tolerances": (math.pi,)}, "phase_tolerances"),
        ({"phi_linear": 1.0}, "phi_linear"),
        ({"C_minus_cases": (0.0,)}, "C_minus_cases"),
    ],
)
def test_bad_parameters_are_named(fig9, override, name):
    with pytest.raises(ValueError, match=name):
        fig9.compute(**override)
