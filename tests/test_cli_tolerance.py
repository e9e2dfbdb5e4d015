"""``steerjax optimize`` with tolerances (issue 11, item 4): flags, job columns, ``E_worst``.

One real run (a job file whose good rows form one batched problem with tolerances on theta, C
and eps and a settling time) is checked independently: each written ``E_worst`` against dense
sampling of the written design's box with :func:`steerjax.steering`, the settling time against
the written damping rate.  The phase flag is checked to reach the Problem with a stand-in for
:func:`steerjax.optimize` (no compilation).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
import math

import numpy as np
import pytest

import steerjax as sj
from steerjax._cli import main
from test_cli_optimize import HOT, run_cli

JOBS = """\
id,C_minus,eps,theta_tolerance,c_tolerance,eps_range_min,eps_range_max,max_settling_time_s
box,10,0.01,1e-3,0.01,0,0.02,
theta,100,0,0.001pi,,,,
settle,10,0,,,,,1e-3
plain,10,0,,,,,
bad-negative,10,0,-1e-3,,,,
bad-eps,10,0.05,,,0,0.02,
bad-half,10,0,,,0,,
bad-slow,10,0,,,,,1e-7
bad-c,10,0,,1.5,,,
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("tol") / "jobs.csv"
    path.write_text(JOBS)
    err, out = io.StringIO(), io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["optimize", "--thermal", "hot", "--from", str(path)])
    return code, list(csv.DictReader(io.StringIO(out.getvalue()))), err.getvalue()


def test_bad_rows_are_named_and_the_good_rows_written(run):
    code, records, err = run
    assert code == 1
    assert [r["id"] for r in records] == ["box", "theta", "settle", "plain"]
    expected = {
        6: "theta_tolerance = -0.001 is outside the allowed range [0, pi/4] (rad)",
        7: "must contain the row's eps = 0.05",
        8: "give both eps_range_min and eps_range_max",
        9: "max_settling_time = 1e-07 s needs a net damping of at least 1/T = 10000000.0 Hz",
        10: "c_tolerance = 1.5 is outside the allowed range [0, 1)",
    }
    for line, text in expected.items():
        assert f"jobs.csv:{line}: " in err and text in err, (line, err)
    assert "tolerance box" not in err  # the settling-time row is not blamed on the box


def _box_max(r: dict, n: int = 5) -> float:
    t = float(r["theta_tolerance"] or 0.0)
    c = float(r["c_tolerance"] or 0.0)
    lo = float(r["eps_range_min"] or r["eps"])
    hi = float(r["eps_range_max"] or r["eps"])
    g = np.linspace(-1.0, 1.0, n)
    S = np.array(list(itertools.product(g, g, g, g, g)))
    design = sj.Design(
        float(r["theta_plus"]) + S[:, 0] * t,
        float(r["theta_minus"]) + S[:, 1] * t,
        float(r["C_plus"]) * (1 + S[:, 2] * c),
        float(r["C_minus"]) * (1 + S[:, 3] * c),
        lo + (hi - lo) * 0.5 * (S[:, 4] + 1),
    )
    return float(np.max(np.asarray(sj.steering(sj.Thermal(**HOT), design).E_plus_given_minus)))


def test_E_worst_is_the_worst_case_of_the_written_design(run):
    _, records, _ = run
    header = list(records[0])
    assert header[header.index("E") + 1] == "E_worst"
    for r in records:
        dense = _box_max(r)
        assert abs(float(r["E_worst"]) - dense) <= 1e-9 * dense, r["id"]
        assert float(r["E"]) <= float(r["E_worst"])
    by_id = {r["id"]: r for r in records}
    assert by_id["plain"]["E_worst"] == by_id["plain"]["E"]
    assert float(by_id["theta"]["theta_tolerance"]) == pytest.approx(0.001 * math.pi, rel=1e-15)


def test_settling_time_is_met(run):
    _, records, _ = run
    r = {r["id"]: r for r in records}["settle"]
    assert float(r["gamma_minus_hz"]) * 1e-3 >= 1.0 - 1e-9
    assert float(r["gamma_plus_hz"]) * 1e-3 >= 1.0 - 1e-9
    assert r["max_settling_time_s"] == "0.001"


class _StandIn:
    """Records the Problem and answers with a nominal search of 1 start (no tolerance compiled)."""

    def __init__(self):
        self.problems = []
        self.optimize = sj.optimize  # the real one, before monkeypatching

    def __call__(self, problem, **kwargs):
        self.problems.append(problem)
        r = self.optimize(sj.Problem(problem.thermal, problem.C_minus), n_starts=1)
        return dataclasses.replace(r, E_worst=r.value + 1.0, tolerant=True)


def test_flags_reach_the_problem(capsys, monkeypatch):
    stand_in = _StandIn()
    monkeypatch.setattr("steerjax.optim._jobs.optimize", stand_in)
    argv = ["optimize", "--thermal", "hot", "--c-minus", "10", "--eps", "0.01", "--phase-tolerance", "0.01pi"]
    argv += ["--theta-tolerance", "1e-3", "--c-tolerance", "0.02", "--eps-range", "0", "0.05"]
    argv += ["--min-settling-time", "0.5", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    (p,) = stand_in.problems
    assert float(p.phase_tolerance[0]) == 0.01 * math.pi
    assert float(p.theta_tolerance[0]) == 1e-3 and float(p.C_tolerance[0]) == 0.02
    assert np.asarray(p.eps_range).tolist() == [[0.0, 0.05]]
    assert float(p.min_damping_hz[0]) == 2.0
    assert '"E_worst"' in out and '"phase_tolerance"' in out and '"max_settling_time_s": 0.5' in out


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--phase-tolerance=-1e-3"], "--phase-tolerance: -0.001 is outside the allowed range [0, pi/2]"),
        (["--theta-tolerance", "1"], "--theta-tolerance: 1.0 is outside the allowed range [0, pi/4]"),
        (["--c-tolerance", "1"], "--c-tolerance: 1.0 is outside the allowed range [0, 1)"),
        (["--eps-range", "0.2", "0.1"], "--eps-range: LO = 0.2, HI = 0.1 is outside the allowed range"),
        (["--max-settling-time", "0"], "--max-settling-time: 0.0 is outside the allowed range (0, inf]"),
    ],
)
def test_bad_tolerance_flags_are_usage_errors(capsys, extra, text):
    code, _, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "10", *extra], capsys)
    assert code == 2 and text in err, err


def test_tolerances_refused_for_conditional_rows(tmp_path, capsys, monkeypatch):
    path = tmp_path / "jobs.csv"
    path.write_text("C_minus,conditional,phase_tolerance\n10,true,1e-3\n")
    monkeypatch.setattr("steerjax.optim._jobs.optimize", _StandIn())
    code, _, err = run_cli(["optimize", "--thermal", "hot", "--from", str(path)], capsys)
    assert code == 1 and "tolerances are not supported for a conditional job" in err
