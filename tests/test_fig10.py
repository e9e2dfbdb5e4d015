"""Fig. 10 (``experiments/fig10_asymmetry.py``, beyond the paper): the fronts and elasticities
on a tiny grid, checked for what the figure claims, the plot and the files.  The fronts and the
sensitivities themselves are tested in test_fronts*.py and test_optimum_sensitivity.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import steerjax as sj
import steerjax.plotting  # noqa: F401  (sj.plotting: matplotlib is not imported by steerjax)

SMALL = dict(
    thermals=("hot",),
    C_minus_cases=(10.0,),
    n_points=5,
    n_sample=3000,
    C_minus_range=(2.0, 100.0),
    n_C_minus=3,
)


@pytest.fixture(scope="module")
def fig10():
    (script,) = [s for s in sj.plotting.discover_figures() if s.number == 10]
    return sj.plotting.load_figure_module(script)


@pytest.fixture(scope="module")
def data(fig10):
    return fig10.compute(**SMALL)


def test_fronts_panel(data):
    """The Pareto front runs from the optimum of E_{+|-} to that of E_{-|+}, no sampled design
    dominates any of its points, and the asymmetry front keeps E_{-|+} >= 1/2."""
    fr = data["fronts"]
    (opt,) = data["optima"]
    p = fr["front"] == "pareto"
    x, y = fr["E_plus_given_minus"][p], fr["E_minus_given_plus"][p]
    assert x[0] == pytest.approx(opt["plus_optimum_E_plus_given_minus"], rel=1e-9)
    assert y[-1] == pytest.approx(opt["minus_optimum_E_minus_given_plus"], rel=1e-9)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) < 0)
    sx = data["sample"]["hot/10/E_plus_given_minus"]
    sy = data["sample"]["hot/10/E_minus_given_plus"]
    assert sx.size > 300  # about a quarter of the random designs of the hot set are stable
    dominated = (sx[:, None] < x[None, :] * (1 - 1e-9)) & (sy[:, None] < y[None, :] * (1 - 1e-9))
    assert not dominated.any()
    a = fr["front"] == "asymmetry"
    assert np.all(fr["E_minus_given_plus"][a] >= sj.STEERING_BOUND * (1 - 1e-12))
    # one-way steering costs: the asymmetry front lies above the unconstrained optimum
    assert np.all(fr["E_plus_given_minus"][a] > opt["plus_optimum_E_plus_given_minus"])


def test_elasticity_panel(data):
    """Elasticities are the derivatives times p/E*; a larger C_- always helps, and more of the
    server's decoherence always hurts."""
    el = data["elasticities"]
    np.testing.assert_allclose(el["C_minus"], [2.0, np.sqrt(200.0), 100.0], rtol=1e-12)
    np.testing.assert_allclose(
        el["elasticity_C_minus"], el["dEstar_d_C_minus"] * el["C_minus"] / el["E_star"], rtol=1e-9
    )
    assert np.all(el["elasticity_C_minus"] < 0) and np.all(el["elasticity_gamma0_plus_hz"] > 0)
    assert list(el["largest"]) == ["C_minus"] * 3
    # E* falls with C_- (the optimal curve of Fig. 4)
    assert np.all(np.diff(el["E_star"]) < 0)


def test_plot_and_files(fig10, tmp_path):
    meta = fig10.main(tmp_path, **SMALL)  # computes again (the compilations are done) and plots
    for suffix in ("png", "pdf", "json"):
        assert (tmp_path / f"fig10.{suffix}").stat().st_size > 0
    head = (tmp_path / "fig10_fronts.csv").read_text().splitlines()[0]
    assert head.startswith("thermal,C_minus,E_plus_given_minus,E_minus_given_plus,")
    assert (tmp_path / "fig10_elasticities.csv").read_text().count("\n") == 1 + 3
    with np.load(tmp_path / "fig10_sample.npz") as z:
        assert set(z.files) == {"hot/10/E_plus_given_minus", "hot/10/E_minus_given_plus"}
    written = json.loads((tmp_path / "fig10.json").read_text())
    assert written["figure"] == "fig10" and written["results"]["cases"] == meta["results"]["cases"]


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"n_points": 1}, "n_points"),
        ({"C_minus_range": (10.0, 1.0)}, "C_minus_range"),
        ({"C_minus_cases": (0.0,)}, "C_minus_cases"),
        ({"thermals": "hot"}, "thermals"),
    ],
)
def test_bad_parameters_are_named(fig10, override, name):
    with pytest.raises(ValueError, match=name):
        fig10.compute(**override)
