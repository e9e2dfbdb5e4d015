"""Figs. 2 and 3 (Sec. IV A/B): the experiment scripts' data, their pictures, and the paper's
qualitative statements, checked against independent evaluations (numpy textbook formulas,
scipy root finding, 50-digit mpmath)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.colors as mcolors
import mpmath as mp
import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from scipy.optimize import brentq, fsolve

import steerjax as sj
import steerjax.plotting as sjp
from reference import textbook_mp, textbook_numpy

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
HOT = (0.1, 1e5, 0.1, 1e5)  # gamma0_plus_hz, nbar_plus, gamma0_minus_hz, nbar_minus
CODES = {name: k for k, name in enumerate(sj.model.REGIMES)}


def _load(number: int):
    (script,) = [s for s in sj.plotting.discover_figures(EXPERIMENTS) if s.number == number]
    return sj.plotting.load_figure_module(script)


@pytest.fixture(scope="module")
def fig2():
    return _load(2)


@pytest.fixture(scope="module")
def fig3():
    return _load(3)


@pytest.fixture(scope="module")
def data2(fig2):
    return fig2.compute(n_map=61, n_cut=161)


@pytest.fixture(scope="module")
def data3(fig3):
    return fig3.compute(n_map=61, n_cut=161)


def _runs(codes) -> list[int]:
    """Regime codes along a cut with repeats collapsed: [0, 0, 2, 3, 3] -> [0, 2, 3]."""
    codes = np.asarray(codes)
    keep = np.concatenate([[True], codes[1:] != codes[:-1]])
    return codes[keep].tolist()


def _independent_crossings(E_of_ratio, lo, hi, n=400):
    """All roots of E(ratio) = 1/2 on [lo, hi]: scan of a log grid, then scipy brentq."""
    r = np.geomspace(lo, hi, n)
    v = np.array([E_of_ratio(x) for x in r]) - 0.5
    roots = []
    for i in np.flatnonzero(np.sign(v[:-1]) != np.sign(v[1:])):
        roots.append(
            brentq(lambda x: E_of_ratio(x) - 0.5, r[i], r[i + 1], xtol=1e-300, rtol=1e-15, maxiter=500)
        )
    return roots


# ---------------------------------------------------------------------------------------------
# Fig. 2: data
# ---------------------------------------------------------------------------------------------


def test_fig2_shapes_finite_and_parameters(data2):
    n, m = 61, 161
    assert data2["maps"]["E_plus_given_minus"].shape == (3, n, n)
    assert data2["maps"]["regime"].shape == (3, n, n)
    assert data2["cuts"]["bare_var_plus"].shape == (3, m)
    # theta_pm >= 0.3 pi: every design of the figure is stable, so everything is finite.
    for group in ("maps", "cuts"):
        for key, value in data2[group].items():
            assert np.all(np.isfinite(value)), (group, key)
    assert set(np.unique(data2["maps"]["regime"]).tolist()) <= {0, 1, 2, 3}
    p = data2["parameters"]
    assert p["theta_minus"] == 0.35 * math.pi and p["C_minus_cut"] == 50.0 and p["eps"] == 0.0
    assert data2["grid"] == {"map": [n, n], "cut": m, "cases": 3}
    assert [b["f_sign"] for b in data2["boundaries"]] == ["f = 0", "f > 0", "f < 0"]
    # The sign labels agree with f = 2R/gamma_+ as computed by the library.
    f1 = [b["f_at_ratio_1"] for b in data2["boundaries"]]
    assert f1[0] == 0.0 and f1[1] > 0 and f1[2] < 0


def test_fig2_values_and_regimes_match_textbook_formulas(data2):
    """Map and cut values against Eqs. (4), (6), (7) evaluated independently in numpy; the
    shading code of every point agrees with the criterion E < 1/2 applied to those values."""
    C = data2["C"]
    for i, tp in enumerate(data2["theta_plus_cases"]):
        e_pm, e_mp = textbook_numpy(tp, 0.35 * math.pi, C[:, None], C[None, :], 0.0, HOT)
        np.testing.assert_allclose(data2["maps"]["E_plus_given_minus"][i], e_pm, rtol=1e-9)
        np.testing.assert_allclose(data2["maps"]["E_minus_given_plus"][i], e_mp, rtol=1e-9)
        codes = data2["maps"]["regime"][i]
        clear = (np.abs(e_pm - 0.5) > 1e-9) & (np.abs(e_mp - 0.5) > 1e-9)
        expected = (e_pm < 0.5).astype(int) + 2 * (e_mp < 0.5).astype(int)
        np.testing.assert_array_equal(codes[clear], expected[clear])
        # two-way: both below the bound; one-way: exactly one; none: neither.
        assert np.all(e_pm[codes == 3] < 0.5) and np.all(e_mp[codes == 3] < 0.5)
        assert np.all((e_pm[codes == 1] < 0.5) & (e_mp[codes == 1] >= 0.5))
        assert np.all((e_mp[codes == 2] < 0.5) & (e_pm[codes == 2] >= 0.5))
        ratio = data2["ratio"]
        e_pm_c, e_mp_c = textbook_numpy(tp, 0.35 * math.pi, 50.0 * ratio, 50.0, 0.0, HOT)
        np.testing.assert_allclose(data2["cuts"]["E_plus_given_minus"][i], e_pm_c, rtol=1e-9)
        np.testing.assert_allclose(data2["cuts"]["E_minus_given_plus"][i], e_mp_c, rtol=1e-9)
        # Bare variance, Eq. (9): (Gamma/2 + gamma_tilde0)/gamma, gamma = gamma0 - Gamma cos(2 theta).
        gt = 0.1 * (1e5 + 0.5)
        Gp = 50.0 * ratio * gt
        np.testing.assert_allclose(
            data2["cuts"]["bare_var_plus"][i], (Gp / 2 + gt) / (0.1 - Gp * np.cos(2 * tp)), rtol=1e-9
        )


# ---------------------------------------------------------------------------------------------
# Fig. 2: the statements of Sec. IV A
# ---------------------------------------------------------------------------------------------


def test_fig2_f_zero_two_way_needs_large_C_and_one_way_is_negligible(data2):
    C = data2["C"]
    codes = data2["maps"]["regime"][0]
    two_way = codes == 3
    Cp = np.broadcast_to(C[:, None], codes.shape)
    Cm = np.broadcast_to(C[None, :], codes.shape)
    # Two-way steering only where both cooperativities exceed 10 ("C_pm > 10") ...
    assert two_way.any() and Cp[two_way].min() > 10.0 and Cm[two_way].min() > 10.0
    # ... and it is there at C_+ = C_- = 20 already (so the threshold lies between 10 and 20).
    e_pm, e_mp = textbook_numpy(0.35 * math.pi, 0.35 * math.pi, 20.0, 20.0, 0.0, HOT)
    assert e_pm < 0.5 and e_mp < 0.5
    # "Negligible" one-way steering, quantified: one-way points are < 10% of the steering
    # area of the map (log-C area) for f = 0, against > 30% for f != 0 ...
    fractions = []
    for i in range(3):
        c = data2["maps"]["regime"][i]
        fractions.append(np.mean((c == 1) | (c == 2)) / np.mean(c > 0))
    assert fractions[0] < 0.10 and fractions[1] > 0.30 and fractions[2] > 0.30

    # ... and along the cut C_- = 50 each one-way band of f = 0 spans less than 15% in C_+
    # (a factor 1.15), against more than 40% for f < 0.
    def widths(case):
        return [
            math.log(s["ratio_end"] / s["ratio_start"])
            for s in data2["boundaries"][case]["segments"]
            if s["regime"].startswith("one-way")
        ]

    assert max(widths(0)) < math.log(1.15)
    assert min(widths(2)) > math.log(1.4)


def test_fig2_f_positive_only_server_steers_client_at_C_minus_50(data2):
    codes = data2["cuts"]["regime"][1]
    assert CODES["one-way server=>client"] in codes and CODES["two-way"] in codes
    assert CODES["one-way client=>server"] not in codes
    # The paper: E_{+|-} > E_{-|+} for f > 0 with these parameters (whole cut).
    assert np.all(data2["cuts"]["E_plus_given_minus"][1] > data2["cuts"]["E_minus_given_plus"][1])
    segs = [s["regime"] for s in data2["boundaries"][1]["segments"]]
    assert "one-way client=>server" not in segs


def test_fig2_f_negative_order_of_regimes_with_growing_ratio(data2):
    expected = ["none", "one-way server=>client", "two-way", "one-way client=>server"]
    runs = _runs(data2["cuts"]["regime"][2])
    assert [sj.model.REGIMES[c] for c in runs[:4]] == expected
    segs = [s["regime"] for s in data2["boundaries"][2]["segments"]]
    assert segs[:4] == expected
    # Beyond the plotted range's upper end, steering is lost again (E_{+|-} rises above 1/2).
    assert segs[4:] == ["none"]


@pytest.mark.parametrize("case, theta_plus", [(1, 0.30 * math.pi), (2, 0.40 * math.pi)])
def test_fig2_exact_boundaries_against_scipy_brentq(data2, case, theta_plus):
    """Every regime boundary along the cut C_- = 50: the library's bisection (public API)
    against scipy's brentq on the textbook formulas, to 1e-10 relative."""
    b = data2["boundaries"][case]
    assert b["theta_plus"] == theta_plus
    lo, hi = data2["parameters"]["ratio_range"]
    ours = {
        q: [c["ratio"] for c in b["crossings"] if c["quantity"] == q]
        for q in ("E_plus_given_minus", "E_minus_given_plus")
    }
    for k, q in enumerate(("E_plus_given_minus", "E_minus_given_plus")):

        def E(ratio, k=k):
            return float(textbook_numpy(theta_plus, 0.35 * math.pi, 50.0 * ratio, 50.0, 0.0, HOT)[k])

        theirs = _independent_crossings(E, lo, hi)
        assert len(theirs) == len(ours[q]) == 2, (q, theirs, ours[q])
        np.testing.assert_allclose(ours[q], theirs, rtol=1e-10, atol=0)
    two_way = b["two_way_ratio_ranges"]
    assert len(two_way) == 1
    # The two-way interval is bounded by crossings of the two-way boundaries found above.
    edges = sorted(ours["E_plus_given_minus"] + ours["E_minus_given_plus"])
    assert two_way[0][0] in edges and two_way[0][1] in edges


@pytest.mark.parametrize("case, theta_plus", [(1, 0.30 * math.pi), (2, 0.40 * math.pi)])
def test_fig2_two_way_boundaries_bracketed_at_50_digits(data2, case, theta_plus):
    """E - 1/2 changes sign within 1e-11 (relative) of each two-way boundary, in a 50-digit
    evaluation of the paper's formulas."""
    b = data2["boundaries"][case]
    lo, hi = b["two_way_ratio_ranges"][0]
    crossing = {c["ratio"]: c["quantity"] for c in b["crossings"]}
    for ratio in (lo, hi):
        q = crossing[ratio]
        vals = []
        for factor in (1 - 1e-11, 1 + 1e-11):
            with mp.workdps(50):
                ref = textbook_mp(theta_plus, 0.35 * math.pi, 50.0 * ratio * factor, 50.0, 0.0, *HOT)
                vals.append(ref[q] - mp.mpf(1) / 2)
        assert vals[0] * vals[1] < 0, (ratio, q, vals)


def test_fig2_boundaries_do_not_depend_on_the_grid(fig2, data2):
    """Bisection to rounding level: a different cut grid gives the same boundaries."""
    other = fig2.compute(n_map=5, n_cut=97)
    for a, b in zip(data2["boundaries"], other["boundaries"], strict=True):
        ra = [c["ratio"] for c in a["crossings"]]
        rb = [c["ratio"] for c in b["crossings"]]
        np.testing.assert_allclose(ra, rb, rtol=1e-13)


def test_fig2_rejects_bad_parameters(fig2):
    with pytest.raises(ValueError, match=r"theta_minus = 2\.0 is outside the allowed range \[0, pi/2\]"):
        fig2.compute(theta_minus=2.0)
    with pytest.raises(ValueError, match="unknown parameter 'C_minus'.*known: thermal"):
        fig2.compute(C_minus=3.0)
    with pytest.raises(ValueError, match="n_map"):
        fig2.compute(n_map=2)


# ---------------------------------------------------------------------------------------------
# Fig. 3
# ---------------------------------------------------------------------------------------------


def _stable_numpy(theta, C, gamma0=0.1, nbar=1e5):
    """gamma = gamma0 - Gamma cos(2 theta) > 0, in plain numpy."""
    return gamma0 - C * gamma0 * (nbar + 0.5) * np.cos(2 * theta) > 0


def test_fig3_shapes_nan_exactly_where_unstable_and_values(data3):
    th = data3["theta"]
    assert data3["maps"]["E_plus_given_minus"].shape == (2, 61, 61)
    assert data3["cuts"]["E_minus_given_plus"].shape == (2, 161)
    for i, cp in enumerate(data3["C_plus_cases"]):
        stable = _stable_numpy(th[:, None], cp) & _stable_numpy(th[None, :], 50.0)
        e = data3["maps"]["E_plus_given_minus"][i]
        codes = data3["maps"]["regime"][i]
        assert np.array_equal(np.isfinite(e), stable)
        assert np.array_equal(codes < 0, ~stable)
        e_pm, e_mp = textbook_numpy(th[:, None], th[None, :], cp, 50.0, 0.0, HOT)
        # The textbook form loses digits close to the stability edge (damping -> 0); compare
        # where both angles are at least 0.01 pi above pi/4.
        away = (th[:, None] > 0.26 * math.pi) & (th[None, :] > 0.26 * math.pi)
        np.testing.assert_allclose(data3["maps"]["E_plus_given_minus"][i][away], e_pm[away], rtol=1e-9)
        np.testing.assert_allclose(data3["maps"]["E_minus_given_plus"][i][away], e_mp[away], rtol=1e-9)
        clear = away & (np.abs(e_pm - 0.5) > 1e-9) & (np.abs(e_mp - 0.5) > 1e-9)
        expected = (e_pm < 0.5).astype(int) + 2 * (e_mp < 0.5).astype(int)
        np.testing.assert_array_equal(codes[clear], expected[clear])


def test_fig3_stability_edge_on_the_cut_is_exact(data3):
    """The first boundary along each cut is the server's stability edge, theta_+ with
    cos(2 theta_+) = 1/(C_+ (nbar + 1/2)), computed here at 50 digits."""
    for b in data3["boundaries"]:
        first = b["crossings"][0]
        assert first["quantity"] == "validity"
        assert first["regime_below"] == "invalid" and first["regime_above"] == "none"
        with mp.workdps(50):
            edge = mp.acos(1 / (mp.mpf(b["C_plus"]) * (mp.mpf(10) ** 5 + mp.mpf(1) / 2))) / 2
        assert abs(first["theta_plus"] - float(edge)) < 1e-12


def test_fig3_equal_cooperativities_two_way_and_server_to_client(data3):
    """C_+ = C_- = 50: two-way and one-way + => - steering exist (large areas); one-way - => +
    is at most a speck (< 0.1% of the stable plane)."""
    codes = data3["maps"]["regime"][0]
    stable = codes >= 0
    share = {k: np.sum(codes == k) / np.sum(stable) for k in range(4)}
    assert share[3] > 0.3 and share[2] > 0.05
    assert share[1] < 1e-3


def test_fig3_doubled_server_cooperativity_both_one_way_directions_meet_near_diagonal(data3):
    """C_+ = 2 C_- = 100: both one-way directions exist, + => - (blue) for theta_+ < theta_- and
    - => + (pink) mostly for theta_+ > theta_-; the two regions touch where both contours
    E = 1/2 cross, and those points lie near theta_+ = theta_- (within 0.025 pi)."""
    th = data3["theta"]
    codes = data3["maps"]["regime"][1]
    tp = np.broadcast_to(th[:, None], codes.shape)
    tm = np.broadcast_to(th[None, :], codes.shape)
    pink, blue = codes == 1, codes == 2
    assert pink.sum() > 20 and blue.sum() > 20
    assert np.mean(tp[blue] < tm[blue]) > 0.95
    assert np.mean(tp[pink] > tm[pink]) > 0.85
    # Blocks of 3x3 grid points holding both one-way regimes locate the contour crossings;
    # refine each with scipy on the textbook formulas.
    starts = []
    for a in range(th.size - 2):
        for b in range(th.size - 2):
            if {1, 2} <= set(codes[a : a + 3, b : b + 3].ravel().tolist()):
                starts.append((th[a], th[b]))
    assert starts

    def both_half(v):
        return np.array(textbook_numpy(v[0], v[1], 100.0, 50.0, 0.0, HOT)) - 0.5

    crossings = set()
    for start in starts:
        v, _, ier, _ = fsolve(both_half, start, full_output=True, xtol=1e-13)
        assert ier == 1
        crossings.add((round(v[0] / math.pi, 8), round(v[1] / math.pi, 8)))
    assert len(crossings) == 2
    for tp_pi, tm_pi in crossings:
        assert abs(tp_pi - tm_pi) < 0.025


def test_fig3_cut_regimes(data3):
    """Along theta_- = 0.35 pi: none -> one-way + => - -> two-way with growing theta_+ (both
    cases), then back to one-way + => - near theta_+ = pi/2 for C_+ = C_-."""
    seq = [[s["regime"] for s in b["segments"]] for b in data3["boundaries"]]
    assert seq[0] == ["invalid", "none", "one-way server=>client", "two-way", "one-way server=>client"]
    assert seq[1] == ["invalid", "none", "one-way server=>client", "two-way"]


# ---------------------------------------------------------------------------------------------
# The pictures
# ---------------------------------------------------------------------------------------------


def _meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


@pytest.mark.parametrize("which", [2, 3])
def test_plots_shade_exactly_the_computed_regimes(which, fig2, fig3, data2, data3):
    module, data = (fig2, data2) if which == 2 else (fig3, data3)
    fig = module.plot(data)
    axes = [ax for ax in fig.axes if _meshes(ax)]
    assert len(axes) == data["grid"]["cases"]
    for i, ax in enumerate(axes):
        (mesh,) = _meshes(ax)
        shown = np.asarray(mesh.get_array()).reshape(data["maps"]["regime"][i].shape)
        np.testing.assert_array_equal(shown, data["maps"]["regime"][i])
        # Colours: two-way white, one-way client=>server light pink, server=>client dark blue.
        for code, color in sjp.REGIME_COLORS.items():
            assert mcolors.same_color(mesh.cmap(mesh.norm(code)), color)
        assert mcolors.same_color(mesh.cmap(mesh.norm(-1)), sjp.UNSTABLE_COLOR)
        assert mcolors.same_color(sjp.REGIME_COLORS[3], "white")
        # Both contours E = 1/2 are drawn (dashed E_+|-, solid E_-|+) when they cross the map.
        contours = [c for c in ax.collections if hasattr(c, "levels") and list(c.levels) == [0.5]]
        assert len(contours) == 2
    # Every axis is labelled with the paper's symbols.
    labels = " ".join(ax.get_xlabel() + ax.get_ylabel() for ax in fig.axes)
    for symbol in (
        (r"$C_-$", r"$C_+$", r"$C_+/C_-$") if which == 2 else (r"$\theta_-/\pi$", r"$\theta_+/\pi$")
    ):
        assert symbol in labels
    if which == 3:  # unstable designs are hatched
        hatched = [
            c
            for ax in axes
            for c in ax.collections
            if sjp.UNSTABLE_HATCH in (getattr(c, "hatches", None) or [])
        ]
        assert len(hatched) == len(axes)
