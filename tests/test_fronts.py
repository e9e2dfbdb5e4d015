"""Optima under a bound on the other direction's E and the fronts of the two directions
(issue 12, items 1-2).

Independent checks: the constrained optima against multistart SLSQP on the printed formulas in
numpy longdouble (``reference_fronts``, no JAX), the bound at the returned design against a
50-digit evaluation of the printed formulas (``reference.textbook_mp``), the fronts' ends
against the JAX-free single-direction optimum (``reference_optimum``), and the fronts against a
dense random sample of stable designs evaluated in longdouble.
"""

from __future__ import annotations

import numpy as np
import pytest

import steerjax as sj
from reference import textbook_mp
from reference_fronts import constrained_reference, edge_optimum, random_designs

HOT = sj.thermal_preset("hot")
# (C_-, kind, bound): the bound is on E_-|+ while E_+|- is minimised; all of them active
ROWS = ((10.0, "max", 0.34), (10.0, "max", 0.32), (10.0, "min", 0.5), (10.0, "min", 2.0), (100.0, "min", 1.0))


@pytest.fixture(scope="module")
def constrained():
    C = np.array([r[0] for r in ROWS])
    bound = np.array([r[2] for r in ROWS])
    upper = np.array([r[1] == "max" for r in ROWS])
    # one batch holds both kinds (the sign is an array field), as pareto_front builds it
    p = sj.Problem(HOT, C_minus=C, max_other_E=bound)
    import equinox as eqx
    import jax

    p = eqx.tree_at(lambda q: q.other_E.sign, p, jax.device_put(np.where(upper, 1.0, -1.0)))
    return sj.optimize(p)


@pytest.fixture(scope="module")
def fronts():
    return sj.pareto_front(HOT, 10.0, 0.0, 41)


def _mp_pair(design, i):
    ref = textbook_mp(
        float(design.theta_plus[i]),
        float(design.theta_minus[i]),
        float(design.C_plus[i]),
        float(design.C_minus[i]),
        float(design.eps[i]),
        0.1,
        1e5,
        0.1,
        1e5,
    )
    return float(ref["E_plus_given_minus"]), float(ref["E_minus_given_plus"])


def test_constrained_optimum_is_no_worse_than_an_independent_multistart(constrained):
    for i, (C, kind, bound) in enumerate(ROWS):
        ref_E, ref_other, _ = constrained_reference("hot", C, "plus-given-minus", kind, bound, n_starts=12)
        assert np.isfinite(ref_E)
        assert float(constrained.value[i]) <= ref_E + 1e-6, (i, float(constrained.value[i]), ref_E)
        # and not better than the reference by more than its own inexactness
        assert float(constrained.value[i]) >= ref_E - 1e-6


def test_bound_holds_at_the_returned_design_at_50_digits(constrained):
    for i, (_, kind, bound) in enumerate(ROWS):
        e_pm, e_mp = _mp_pair(constrained.design, i)
        if kind == "max":
            assert e_mp <= bound * (1 + 1e-12)
        else:
            assert e_mp >= bound * (1 - 1e-12)
        # the reported E_other and value are the 50-digit values of the design's angles
        assert abs(float(constrained.E_other[i]) - e_mp) <= 1e-12 * e_mp
        assert abs(float(constrained.value[i]) - e_pm) <= 1e-12 * e_pm
        assert bool(constrained.converged[i])


def test_constrained_result_columns_add_E_other(constrained):
    cols = constrained.columns()
    assert list(cols)[:2] == ["E", "E_other"]
    np.testing.assert_array_equal(cols["E_other"], np.asarray(constrained.E_minus_given_plus))


def test_infeasible_upper_bound_is_reported_per_row_with_the_reachable_range():
    p = sj.Problem(HOT, C_minus=10.0, max_other_E=[0.30, 0.34])
    with pytest.raises(sj.optim.InfeasibleBoundError) as err:
        sj.optimize(p)
    e = err.value
    assert list(e.rows) == [0]
    msg = e.rows[0]
    assert "max_other_E = 0.3 " in msg and "0.31224943" in msg and "allowed range [0.31224943" in msg
    assert np.isnan(float(e.result.value[0])) and np.isfinite(float(e.result.value[1]))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (dict(max_other_E=0.4, min_other_E=0.5), "give at most one"),
        (dict(max_other_E=-1.0), "max_other_E = -1.0 is outside the allowed range (0, inf)"),
        (dict(min_other_E=float("nan")), "min_other_E = nan is outside the allowed range"),
        (dict(min_other_E=0.6, conditional=True), "not supported with conditional=True"),
        (dict(max_other_E=[0.4, 0.5, 0.6], eps=[0.0, 0.1]), "do not broadcast"),
    ],
)
def test_bad_bounds_are_named(kwargs, text):
    with pytest.raises(ValueError, match=None) as err:
        sj.Problem(HOT, C_minus=10.0, **kwargs)
    assert text in str(err.value)


def test_unconstrained_result_has_E_other(fronts):
    r, o = fronts.plus_optimum, fronts.minus_optimum
    assert float(r.E_other) == float(r.E_minus_given_plus)
    assert float(o.E_other) == float(o.E_plus_given_minus)
    assert "E_other" not in r.columns()


def test_non_dominated_mask():
    x = np.array([1.0, 2.0, 2.0, 3.0, 1.0])
    y = np.array([3.0, 2.0, 2.5, 1.0, 3.0])
    np.testing.assert_array_equal(sj.optim.non_dominated(x, y), [True, True, False, True, False])


def test_fronts_are_monotone_and_non_dominated(fronts):
    p, a = fronts.pareto, fronts.asymmetry
    assert p.E_plus_given_minus.size >= 40 and a.E_plus_given_minus.size >= 40
    assert np.all(np.diff(p.E_plus_given_minus) > 0) and np.all(np.diff(p.E_minus_given_plus) < 0)
    assert np.all(np.diff(a.E_plus_given_minus) > 0) and np.all(np.diff(a.E_minus_given_plus) > 0)
    assert np.all(sj.optim.non_dominated(p.E_plus_given_minus, p.E_minus_given_plus))
    assert np.all(sj.optim.non_dominated(a.E_plus_given_minus, -a.E_minus_given_plus))
    # every asymmetry point meets its lower bound; it starts at 1/2 (one-way steering)
    assert np.all(a.E_minus_given_plus >= a.bound * (1 - 1e-12)) and a.bound[0] == 0.5
    assert np.all(a.E_plus_given_minus < 0.5)


def test_front_ends_are_the_single_direction_optima(fronts):
    p = fronts.pareto
    # the single-direction optima without JAX (SLSQP, then Nelder-Mead at the client's edge)
    ref_plus = edge_optimum("hot", 10.0, "plus-given-minus")
    ref_minus = edge_optimum("hot", 10.0, "minus-given-plus")
    assert abs(float(p.E_plus_given_minus[0]) - ref_plus) <= 1e-9
    assert abs(float(p.E_minus_given_plus[-1]) - ref_minus) <= 1e-9
    # and exactly the optima the front was traced from
    assert float(p.E_plus_given_minus[0]) == float(fronts.plus_optimum.value)
    assert float(p.E_minus_given_plus[-1]) == float(fronts.minus_optimum.value)


def test_no_random_design_dominates_a_front_point(fronts):
    x, y = random_designs("hot", 10.0, 300_000, seed=1)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    tol = 1e-8  # the printed formula in longdouble at damping ratio 1e-10 keeps ~1e-9
    p = fronts.pareto
    for fx, fy in zip(p.E_plus_given_minus, p.E_minus_given_plus, strict=True):
        assert not np.any((x < fx - tol) & (y < fy - tol))
    a = fronts.asymmetry
    for fx, fy in zip(a.E_plus_given_minus, a.E_minus_given_plus, strict=True):
        assert not np.any((x < fx - tol) & (y >= fy))
    # the sample does reach close to the fronts (the check is not vacuous)
    near = []
    for fx, fy in zip(p.E_plus_given_minus, p.E_minus_given_plus, strict=True):
        below = y <= fy
        if np.count_nonzero(below):
            near.append(float(np.min(x[below])) - float(fx))
    assert len(near) >= 20 and np.median(near) < 5e-3


# --- command line (in this file so that it reuses the compiled programs of the fixtures) ---

JOBS = """\
id,C_minus,max_other_E,min_other_E
upper,10,0.34,
lower,10,,0.5
plain,10,,
too-low,10,0.30,
both,10,0.4,0.5
negative,10,-1,
"""


def _cli(args):
    import contextlib
    import io

    from steerjax._cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_cli_optimize_bounds_rows_and_E_other(tmp_path, constrained):
    import csv
    import io

    path = tmp_path / "jobs.csv"
    path.write_text(JOBS)
    code, out, err = _cli(["optimize", "--thermal", "hot", "--from", str(path), "--quiet"])
    assert code == 1
    records = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in records] == ["upper", "lower", "plain"]
    header = out.splitlines()[0].split(",")
    assert header[header.index("E") + 1] == "E_other"
    assert "jobs.csv:5: max_other_E = 0.3 is below the smallest reachable E_-|+ = 0.31224943" in err
    assert "jobs.csv:6: give at most one of max_other_E and min_other_E" in err
    assert "jobs.csv:7: max_other_E = -1.0 is outside the allowed range (0, inf)" in err
    upper, lower, plain = records
    assert float(upper["E_other"]) <= 0.34 and float(lower["E_other"]) >= 0.5
    assert float(plain["E_other"]) == float(plain["E_minus_given_plus"])
    # the same optima as the library's (rows 0 and 2 of the fixture)
    assert abs(float(upper["E"]) - float(constrained.value[0])) <= 1e-12
    assert abs(float(lower["E"]) - float(constrained.value[2])) <= 1e-12


def test_cli_pareto_writes_the_fronts_and_a_plot(tmp_path, fronts):
    import csv

    out, png = tmp_path / "front.csv", tmp_path / "front.png"
    code, _, err = _cli(
        [
            "pareto",
            "--thermal",
            "hot",
            "--c-minus",
            "10",
            "--eps",
            "0",
            "--points",
            "41",
            "--out",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0, err
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(sj.optim._fronts.COLUMNS)
    kinds = [r["front"] for r in rows]
    assert (
        kinds.count("pareto") == fronts.pareto.bound.size
        and kinds.count("asymmetry") == fronts.asymmetry.bound.size
    )
    x = np.array([float(r["E_plus_given_minus"]) for r in rows])
    np.testing.assert_array_equal(x, fronts.columns()["E_plus_given_minus"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--c-minus", "-1"], 1, "C_minus = -1.0 is outside the allowed range"),
        (["--c-minus", "10", "--points", "1"], 2, "--points: 1 is outside the allowed range [2, inf)"),
        (["--c-minus", "10", "--plot", "x.pdf"], 2, "must end in .png"),
        (
            ["--c-minus", "10", "--asymmetry-max", "0.4"],
            1,
            "asymmetry_max = 0.4 is outside the allowed range",
        ),
    ],
)
def test_cli_pareto_bad_input(args, code, text):
    got, _, err = _cli(["pareto", "--thermal", "hot", *args])
    assert got == code and text in err
