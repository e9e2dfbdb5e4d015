"""Fig. 8 (``experiments/fig8_conditional_improvement.py``): data on a coarse grid, the plot and
the files.  The physics of the conditional optimum is tested in test_conditional_optimize.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

import steerjax as sj


@pytest.fixture(scope="module")
def fig8():
    (script,) = [s for s in sj.plotting.discover_figures() if s.number == 8]
    return sj.plotting.load_figure_module(script)


@pytest.fixture(scope="module")
def data(fig8):
    return fig8.compute(thermal_sets=("hot",), n_C=2, C_minus_range=(3.0, 30.0))


def test_table_shapes_and_values(data):
    t = data["table"]
    assert t["d"].shape == (4,)  # 1 thermal set x 2 directions x 2 C_-
    assert sorted(set(t["direction"])) == sorted(sj.DIRECTIONS)
    for key in ("E_u", "E_c", "d", "d_at_unconditional_design", "lo_phase", "C_plus_c"):
        assert np.all(np.isfinite(t[key])), key
    np.testing.assert_allclose(t["d"], (t["E_u"] - t["E_c"]) / t["E_u"], rtol=1e-12)
    assert np.all(t["d"] >= t["d_at_unconditional_design"] - 1e-12)
    assert np.all(t["d"] > 0)
    assert np.array_equal(t["steers_u"], t["E_u"] < 0.5)
    assert {c["direction"] for c in data["summary"]} == set(sj.DIRECTIONS)


def test_plot_and_files(fig8, data, tmp_path):
    assert isinstance(fig8.plot(data), Figure)
    meta = fig8.main(tmp_path, thermal_sets=("hot",), n_C=2, C_minus_range=(3.0, 30.0))
    for suffix in ("png", "pdf", "json"):
        assert (tmp_path / f"fig8.{suffix}").stat().st_size > 0
    rows = (tmp_path / "fig8_improvement.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("thermal,direction,C_minus,E_u,E_c,d,")
    written = json.loads((tmp_path / "fig8.json").read_text())
    assert written["figure"] == "fig8" and written["results"]["curves"] == meta["results"]["curves"]


@pytest.mark.parametrize(
    ("override", "name"),
    [({"n_C": 1}, "n_C"), ({"efficiency": 2.0}, "efficiency"), ({"C_minus_range": (5, 1)}, "C_minus_range")],
)
def test_bad_parameters_are_named(fig8, override, name):
    with pytest.raises(ValueError, match=name):
        fig8.compute(**override)
