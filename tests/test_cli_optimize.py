"""Tests of ``steerjax optimize``.

The CLI runs in-process (``steerjax._cli.main``) except for one console-script smoke test.  Its
numbers are checked against :func:`steerjax.optimize` called directly on the same problem, and
each written design is re-evaluated with :func:`steerjax.steering` (the written E must be the E
of the written design).  Compilation costs ~7 s per (coupling, direction), so almost every test
uses the default problem (asymmetric, plus-given-minus) and the default number of starts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import numpy as np
import pytest

import steerjax as sj
from steerjax._cli import build_parser, main
from steerjax.optim import _job_columns as optimize_columns

# The paper's thermal sets (Sec. IV, Figs. 4-8), written out independently of the presets.
HOT = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
VACUUM_SERVER = {"gamma0_plus_hz": 2e4, "nbar_plus": 0.0, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
THERMAL_KEYS = tuple(HOT)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``steerjax <argv>`` run in-process."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def library_optimum(thermal: dict, C_minus, **options) -> sj.OptimumResult:
    return sj.optimize(sj.Problem(sj.Thermal(**thermal), np.asarray(C_minus, dtype=float), **options))


def reevaluate(record: dict) -> sj.SteeringResult:
    """The steering of the design a record reports, from the library's closed forms."""
    thermal = sj.Thermal(**{k: float(record[k]) for k in THERMAL_KEYS})
    design = sj.Design(
        theta_plus=float(record["theta_plus"]),
        theta_minus=float(record["theta_minus"]),
        C_plus=float(record["C_plus"]),
        C_minus=float(record["C_minus"]),
        eps=float(record["eps"]),
    )
    return sj.steering(thermal, design)


def damping_ratio(theta: float, C: float, nbar: float) -> float:
    """gamma/(gamma_0 + Gamma) with gamma = gamma_0 - Gamma cos(2 theta), Gamma = C gamma_0 (nbar + 1/2)
    (numpy, in units of gamma_0)."""
    Gamma = C * (nbar + 0.5)
    return (1.0 - Gamma * math.cos(2.0 * theta)) / (1.0 + Gamma)


# ---------------------------------------------------------------------------------------------
# Optima from flags
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_records():
    """One run over a 3-point C_- grid and two losses (six optima, one compiled call)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["optimize", "--thermal", "hot", "--c-minus-grid", "1", "100", "3", "--eps", "0", "0.2", "--json"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_grid_flag_gives_log_spaced_values_in_product_order(grid_records):
    C = [r["C_minus"] for r in grid_records]
    assert [r["eps"] for r in grid_records] == [0.0] * 3 + [0.2] * 3
    assert C[:3] == C[3:]
    assert C[0] == 1.0 and C[2] == 100.0  # exact ends
    np.testing.assert_allclose(C[:3], np.geomspace(1.0, 100.0, 3), rtol=1e-15, atol=0)
    assert {(r["coupling"], r["direction"]) for r in grid_records} == {("asymmetric", "plus-given-minus")}
    assert all(r["thermal"] == "hot" and {k: r[k] for k in THERMAL_KEYS} == HOT for r in grid_records)


def test_flag_optima_equal_the_library_on_the_same_problems(grid_records):
    C = np.array([r["C_minus"] for r in grid_records])
    eps = np.array([r["eps"] for r in grid_records])
    # One problem at a time: a different batch composition from the CLI's one call.
    for j, rec in enumerate(grid_records):
        ref = library_optimum(HOT, C[j], eps=eps[j])
        assert rec["E"] == float(ref.value)
        assert rec["E_minus_given_plus"] == float(ref.E_minus_given_plus)
        for name in ("theta_plus", "theta_minus", "C_plus"):
            assert rec[name] == float(getattr(ref.design, name)), name
        assert rec["gamma_minus_hz"] == float(ref.gamma_minus_hz)
        assert rec["converged"] is bool(ref.converged) and rec["steps"] == int(ref.steps)
        assert rec["at_stability_edge"] is bool(ref.at_stability_edge)


def test_written_design_reproduces_the_written_E(grid_records):
    for rec in grid_records:
        res = reevaluate(rec)
        assert rec["E"] == rec["E_plus_given_minus"]  # the default direction is minimised
        assert float(res.E_plus_given_minus) == pytest.approx(rec["E_plus_given_minus"], rel=1e-12, abs=0)
        assert float(res.E_minus_given_plus) == pytest.approx(rec["E_minus_given_plus"], rel=1e-12, abs=0)
        assert rec["C_plus_over_C_minus"] == pytest.approx(rec["C_plus"] / rec["C_minus"], rel=1e-15)
        # The asymmetric optimum sits at the client's stability edge (physics notes), just on the
        # stable side: damping ratio from the written angle, computed here in numpy.
        rho = damping_ratio(rec["theta_minus"], rec["C_minus"], HOT["nbar_minus"])
        assert rec["at_stability_edge"] and 0 < rho < 1e-6
        assert rec["theta_minus"] < math.pi / 4


def test_table_output_shows_each_optimum(capsys):
    code, out, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "10", "3"], capsys)
    assert code == 0, err
    ref = library_optimum(HOT, [10.0, 3.0])
    assert "preset hot" in out and "8 starts, seed 0" in out
    assert "asymmetric coupling" in out and "minimising E_+|- (client => server)" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s+(10|3)\s", line)]
    assert len(rows) == 2
    for cells, j in zip(rows, (0, 1), strict=True):
        assert float(cells[2]) == pytest.approx(float(ref.E_plus_given_minus[j]), rel=1e-9)
        assert float(cells[4]) == pytest.approx(float(ref.design.theta_plus[j]) / math.pi, abs=1e-8)
        assert float(cells[5]) == pytest.approx(float(ref.design.theta_minus[j]) / math.pi, abs=1e-8)
        assert float(cells[6]) == pytest.approx(float(ref.C_plus_over_C_minus[j]), rel=1e-5)
        assert cells[7:] == ["yes", "yes"]


def test_constraints_are_respected_and_written(tmp_path, capsys):
    out_file = tmp_path / "optima.csv"
    argv = [
        "optimize",
        "--thermal",
        "vacuum-server",
        "--c-minus",
        "20",
        "--theta-plus-bounds",
        "0.4pi",
        "0.4pi",
    ]
    argv += ["--c-plus-bounds", "5", "15", "--min-damping-ratio", "1e-3", "--out", str(out_file), "-q"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and err == ""
    assert "--theta-plus-bounds" in out and "--min-damping-ratio 0.001" in out
    (row,) = list(csv.DictReader(out_file.open()))
    assert float(row["theta_plus_min"]) == float(row["theta_plus_max"]) == 0.4 * math.pi
    assert float(row["C_plus_min"]) == 5.0 and float(row["C_plus_max"]) == 15.0
    assert float(row["theta_plus"]) == pytest.approx(0.4 * math.pi, rel=1e-12)
    assert 5.0 <= float(row["C_plus"]) <= 15.0
    for side in ("plus", "minus"):
        C = float(row["C_plus"]) if side == "plus" else 20.0
        rho = damping_ratio(float(row[f"theta_{side}"]), C, VACUUM_SERVER[f"nbar_{side}"])
        assert rho >= 1e-3 * (1 - 1e-9)
        assert float(row[f"damping_ratio_{side}"]) == pytest.approx(rho, rel=1e-9)
    assert row["at_stability_edge"] == "false"
    ref = library_optimum(
        VACUUM_SERVER,
        20.0,
        theta_plus_bounds=(0.4 * math.pi, 0.4 * math.pi),
        C_plus_bounds=(5.0, 15.0),
        min_damping_ratio=1e-3,
    )
    assert float(row["E"]) == float(ref.value)
    res = reevaluate(row)
    assert float(res.E_plus_given_minus) == pytest.approx(float(row["E"]), rel=1e-12)


def test_infeasible_grid_points_are_reported_and_the_rest_solved(capsys):
    # theta_- <= 0.2 pi: the hot client is stable there only for C_- (nbar + 1/2) < 1/cos(0.4 pi).
    argv = ["optimize", "--thermal", "hot", "--c-minus", "1e-6", "10", "--theta-minus-bounds", "0", "0.2pi"]
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 1
    (rec,) = json.loads(out)
    assert rec["C_minus"] == 1e-6 and rec["theta_minus"] <= 0.2 * math.pi
    edge = 0.5 * math.acos(1.0 / (10.0 * (1e5 + 0.5)))  # numpy/math: theta_- must exceed this
    (line,) = [x for x in err.splitlines() if "error" in x]
    assert "C_minus = 10.0" in line and "client is stable only for theta_minus > " in line
    assert float(re.search(r"theta_minus > ([\d.e+-]+)", line)[1]) == pytest.approx(edge, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Usage errors and bad values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, texts",
    [
        ([], ["--c-minus", "--c-minus-grid", "--from"]),
        (["--c-minus", "1", "--c-minus-grid", "1", "10", "3"], ["not both"]),
        (["--c-minus-grid", "1", "10", "0"], ["--c-minus-grid", "N = 0", "[1, 10000000]"]),
        (["--c-minus-grid", "1", "10", "1e8"], ["--c-minus-grid", "N = 100000000", "[1, 10000000]"]),
        (["--c-minus-grid", "-1", "10", "5"], ["--c-minus-grid", "START = -1.0", "(0, inf)"]),
        (["--c-minus-grid", "1", "10", "2.5"], ["--c-minus-grid", "N = '2.5'", "integer"]),
        (["--c-minus-grid", "1", "10", "1"], ["--c-minus-grid", "N = 1", "START and STOP"]),
        (["--c-minus", "10", "--starts", "0"], ["--starts", "0", "[1, 1000000]"]),
        (["--c-minus", "10", "--starts", "1e7"], ["--starts", "10000000", "[1, 1000000]"]),
        (["--c-minus", "10", "--seed", "-3"], ["--seed", "-3", "[0, 9223372036854775807]"]),
        (["--c-minus", "10", "--seed", "9223372036854775808"], ["--seed", "[0, 9223372036854775807]"]),
        (["--c-minus", "10", "--direction", "sideways"], ["--direction", "'sideways'", "minus-given-plus"]),
        (["--c-minus", "10", "--coupling", "loose"], ["--coupling", "'loose'", "symmetric"]),
        (["--c-minus", "x"], ["--c-minus", "'x' is not a number"]),
        (
            ["--c-minus", "10", "--theta-minus-bounds", "0.3pi", "0.2pi"],
            [
                "--theta-minus-bounds",
                f"LO = {0.3 * math.pi!r}",
                f"HI = {0.2 * math.pi!r}",
                "LO <= HI <= pi/2",
            ],
        ),
        (["--c-minus", "10", "--theta-plus-bounds", "0", "2"], ["--theta-plus-bounds", "HI = 2.0", "pi/2"]),
        (["--c-minus", "10", "--c-plus-bounds", "0", "5"], ["--c-plus-bounds", "LO = 0.0", "0 < LO"]),
        (["--c-minus", "10", "--min-damping-ratio", "1"], ["--min-damping-ratio", "R = 1.0", "[0, 1)"]),
        (["--c-minus", "10", "--theta-plus-bounds", "0.1pie", "1"], ["--theta-plus-bounds", "'0.1pie'"]),
    ],
)
def test_usage_errors_exit_2_naming_flag_value_and_range(capsys, extra, texts):
    code, out, err = run_cli(["optimize", "--thermal", "hot", *extra], capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: steerjax optimize")
    for text in texts:
        assert text in err, (text, err)


@pytest.mark.parametrize(
    "extra, texts",
    [
        (["--c-minus", "10", "-2"], ["C_minus = -2.0 (--c-minus)", "(0, inf)"]),
        (["--c-minus", "10", "--eps", "0", "1"], ["eps = 1.0 (--eps)", "[0, 1)"]),
        (["--c-minus", "10", "--nbar-plus", "-1"], ["nbar_plus = -1.0 (--nbar-plus)", "[0, inf)"]),
    ],
)
def test_out_of_domain_values_exit_1_like_evaluate(capsys, extra, texts):
    code, out, err = run_cli(["optimize", "--thermal", "hot", *extra], capsys)
    assert code == 1 and out == ""
    for text in texts:
        assert text in err


def test_incomplete_thermal_parameters_are_a_usage_error(capsys):
    code, _, err = run_cli(["optimize", "--c-minus", "10", "--nbar-plus", "0"], capsys)
    assert code == 2 and "thermal parameters are incomplete" in err and "--gamma0-minus-hz" in err


def test_help_explains_every_flag_with_its_unit(capsys):
    code, out, _ = run_cli(["optimize", "--help"], capsys)
    assert code == 0
    sub = build_parser()._subparsers._group_actions[0]
    physical = {
        "C_minus",
        "C_minus_grid",
        "eps",
        "theta_plus_bounds",
        "theta_minus_bounds",
        "C_plus_bounds",
        "min_damping_ratio",
        *THERMAL_KEYS,
    }
    physical |= {"efficiency", "lo_phase"}
    seen = set()
    for action in sub.choices["optimize"]._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help and action.option_strings[-1] in out, action.dest
        if action.dest in physical:
            seen.add(action.dest)
            assert re.search(r"\[(rad|Hz|quanta|dimensionless)\]", action.help), action.dest
    assert seen == physical
    for column in (
        *optimize_columns.JOB_COLUMNS,
        *optimize_columns.CONSTRAINT_COLUMNS,
        *optimize_columns.OUTPUT_RESULT_COLUMNS,
    ):
        assert column in out, column
    assert "examples:" in out and "exit status" in out


# ---------------------------------------------------------------------------------------------
# Batch jobs from a file
# ---------------------------------------------------------------------------------------------

JOBS = """\
# jobs for test_cli_optimize
id,thermal,eps,coupling,direction,C_minus,theta_minus_max
good-1,hot,0,asymmetric,plus-given-minus,10,
bad-thermal,warm,0,asymmetric,plus-given-minus,10,
bad-eps,hot,1,asymmetric,plus-given-minus,10,
good-2,vacuum-server,0.2,asymmetric,plus_given_minus,30,

bad-C,hot,0,asymmetric,plus-given-minus,-1,
bad-direction,hot,0,asymmetric,sideways,10,
good-3,hot,0.1,symmetric,minus-given-plus,50,
bad-bounds,hot,0,asymmetric,plus-given-minus,10,0.2pi
bad-number,hot,zero,asymmetric,plus-given-minus,10,
good-4,Hot,0,ASYMMETRIC,plus-given-minus,3,0.4pi
"""
BAD_LINES = {
    4: r"thermal: 'warm' is not a thermal preset; allowed: hot, vacuum-server",
    5: r"eps = 1\.0 is outside the allowed range \[0, 1\)",
    8: r"C_minus = -1\.0 is outside the allowed range \(0, inf\)",
    9: r"direction: 'sideways' is not a direction; allowed: plus-given-minus, minus-given-plus",
    11: r"no dynamically stable design satisfies the constraints: "
    r"the client is stable only for theta_minus > ",
    12: r"eps: 'zero' is not a number",
}


class CountingOptimize:
    """Stands in for steerjax.optimize: records the batch shape and options of every call."""

    def __init__(self, real):
        self.real = real
        self.calls: list[tuple] = []

    def __call__(self, problem, **kwargs):
        self.calls.append((problem.batch_shape, problem.coupling, problem.direction, kwargs.get("n_starts")))
        return self.real(problem, **kwargs)


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    (tmp / "jobs.csv").write_text(JOBS)
    counter = CountingOptimize(sj.optimize)
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr("steerjax.optim._jobs.optimize", counter)
        code = main(["optimize", "--from", str(tmp / "jobs.csv"), "--out", str(tmp / "results.csv")])
    with open(tmp / "results.csv", newline="") as fh:
        out = list(csv.DictReader(fh))
    return {"code": code, "stderr": err.getvalue(), "out": out, "tmp": tmp, "calls": counter.calls}


def test_batch_reports_bad_rows_with_line_numbers_and_exit_1(batch_run):
    assert batch_run["code"] == 1
    path = str(batch_run["tmp"] / "jobs.csv")
    reported = {}
    for line in batch_run["stderr"].splitlines():
        m = re.match(re.escape(path) + r":(\d+): (.*)$", line)
        if m:
            reported[int(m[1])] = m[2]
    assert set(reported) == set(BAD_LINES)
    for line, reason in BAD_LINES.items():
        assert re.search(reason, reported[line]), (line, reported[line])
    assert "wrote 4 of 10 optima" in batch_run["stderr"]


def test_batch_writes_the_good_rows_with_the_job_columns_then_the_results(batch_run):
    out = batch_run["out"]
    assert [r["id"] for r in out] == ["good-1", "good-2", "good-3", "good-4"]
    header = ["id", "thermal", "eps", "coupling", "direction", "C_minus", "theta_minus_max", *THERMAL_KEYS]
    assert list(out[0]) == [*header, *optimize_columns.OUTPUT_RESULT_COLUMNS]
    assert [r["thermal"] for r in out] == ["hot", "vacuum-server", "hot", "hot"]
    assert [r["direction"] for r in out] == ["plus-given-minus"] * 2 + [
        "minus-given-plus",
        "plus-given-minus",
    ]
    assert [r["coupling"] for r in out] == ["asymmetric", "asymmetric", "symmetric", "asymmetric"]
    # not given: an empty cell (was "nan", which is no longer accepted as input)
    assert [r["theta_minus_max"] for r in out] == ["", "", "", repr(0.4 * math.pi)]
    assert {k: float(out[1][k]) for k in THERMAL_KEYS} == VACUUM_SERVER


def test_batch_is_one_optimize_call_per_coupling_and_direction(batch_run):
    assert batch_run["calls"] == [
        ((3,), "asymmetric", "plus-given-minus", 8),
        ((1,), "symmetric", "minus-given-plus", 8),
    ]


def test_batch_results_equal_the_library_and_reproduce_E(batch_run):
    out = batch_run["out"]
    asym = [out[0], out[1], out[3]]
    thermal = {k: np.array([float(r[k]) for r in asym]) for k in THERMAL_KEYS}
    ref = sj.optimize(
        sj.Problem(
            sj.Thermal(**thermal),
            np.array([float(r["C_minus"]) for r in asym]),
            eps=np.array([float(r["eps"]) for r in asym]),
            theta_minus_bounds=np.array([[0.0, math.pi / 2]] * 2 + [[0.0, 0.4 * math.pi]]),
        )
    )
    np.testing.assert_array_equal([float(r["E"]) for r in asym], np.asarray(ref.value))
    np.testing.assert_array_equal([float(r["theta_plus"]) for r in asym], np.asarray(ref.design.theta_plus))
    assert out[3]["at_stability_edge"] == "true" and float(out[3]["theta_minus"]) <= 0.4 * math.pi
    sym = out[2]
    ref_sym = library_optimum(HOT, 50.0, eps=0.1, coupling="symmetric", direction="minus-given-plus")
    assert float(sym["E"]) == float(ref_sym.value) == float(sym["E_minus_given_plus"])
    assert sym["theta_plus"] == sym["theta_minus"]
    for row in out:
        res = reevaluate(row)
        assert float(res.E_plus_given_minus) == pytest.approx(float(row["E_plus_given_minus"]), rel=1e-12)
        assert float(res.E_minus_given_plus) == pytest.approx(float(row["E_minus_given_plus"]), rel=1e-12)
        # gamma_- is the optimiser's exact value.  At the edge (damping ratio ~1e-12) the float64
        # angle pins gamma_- down only to ~1e-4 relative (1 ulp of theta ~ 1e-16 against a
        # distance ~1e-12 from the edge angle), so the re-evaluated gamma_- agrees only that far.
        edge = float(row["damping_ratio_minus"]) < 1e-6
        assert float(res.gamma_minus_hz) == pytest.approx(
            float(row["gamma_minus_hz"]), rel=1e-3 if edge else 1e-9
        )
        assert float(res.gamma_plus_hz) == pytest.approx(float(row["gamma_plus_hz"]), rel=1e-9)


def test_a_results_file_optimises_again_to_itself(batch_run, capsys):
    again = batch_run["tmp"] / "again.csv"
    code, _, err = run_cli(
        ["optimize", "--from", str(batch_run["tmp"] / "results.csv"), "--out", str(again)], capsys
    )
    assert code == 0, err
    assert again.read_text() == (batch_run["tmp"] / "results.csv").read_text()
    assert "'E' of" in err and "replaced by this run's results" in err


def test_missing_columns_come_from_flags_and_conflicts_are_usage_errors(tmp_path, capsys):
    path = tmp_path / "jobs.csv"
    path.write_text("label,eps\nx,0\ny,0.1\n")
    code, out, err = run_cli(["optimize", "--from", str(path), "--thermal", "hot", "--c-minus", "10"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))  # no --out: CSV on stdout
    assert [(r["label"], float(r["C_minus"]), r["coupling"], r["direction"]) for r in rows] == [
        ("x", 10.0, "asymmetric", "plus-given-minus"),
        ("y", 10.0, "asymmetric", "plus-given-minus"),
    ]
    assert "C_minus = 10.0 (--c-minus)" in err and "coupling = 'asymmetric' (default)" in err
    ref = library_optimum(HOT, [10.0, 10.0], eps=np.array([0.0, 0.1]))
    np.testing.assert_array_equal([float(r["E"]) for r in rows], np.asarray(ref.value))
    # A flag for a column of the file, a flag with several values, or no C_minus at all.
    for extra, text in (
        (["--c-minus", "10", "--eps", "0.1"], "eps is a column of"),
        (["--c-minus", "10", "20"], "--c-minus gives 2 values"),
        ([], "missing required column C_minus"),
    ):
        code, out, err = run_cli(["optimize", "--from", str(path), "--thermal", "hot", *extra], capsys)
        assert code in (1, 2) and out == "" and text in err


def test_json_lists_and_json_files(tmp_path, capsys):
    path = tmp_path / "jobs.csv"
    path.write_text("C_minus\n10\n")
    dest = tmp_path / "r.json"
    code, out, err = run_cli(
        ["optimize", "--from", str(path), "--thermal", "hot", "--json", "--out", str(dest), "-q"], capsys
    )
    assert code == 0 and err == ""
    printed, written = json.loads(out), json.loads(dest.read_text())
    assert printed == written and len(written) == 1
    assert written[0]["converged"] is True and isinstance(written[0]["steps"], int)
    assert written[0]["E"] == float(library_optimum(HOT, 10.0).value)


def test_unwritable_destination_leaves_no_partial_file(tmp_path, capsys):
    (tmp_path / "a-directory").mkdir()
    code, out, err = run_cli(
        ["optimize", "--thermal", "hot", "--c-minus", "10", "--out", str(tmp_path / "a-directory")], capsys
    )
    assert code == 1 and "cannot write" in err and "nothing was written" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a-directory"]


# ---------------------------------------------------------------------------------------------
# Progress bar
# ---------------------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_on_a_terminal_unless_quiet(capsys, quiet):
    tty = FakeTerminal()
    argv = ["optimize", "--thermal", "hot", "--c-minus", "2", "5", "20", *(["--quiet"] if quiet else [])]
    with contextlib.redirect_stderr(tty):
        code = main(argv)
    assert code == 0
    text = tty.getvalue()
    if quiet:
        assert text == ""
    else:
        last = text.rsplit("\r", 1)[-1]  # the final state of the line, then a line break
        assert "optimising (asymmetric, plus-given-minus) " in last and "3/3" in last and "\n" in last
    capsys.readouterr()


def test_no_progress_bar_when_stderr_is_not_a_terminal(capsys):
    code, _, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "2", "5", "20"], capsys)
    assert code == 0 and "optimising" not in err and err == ""


# ---------------------------------------------------------------------------------------------
# The installed console script (the newcomer's path)
# ---------------------------------------------------------------------------------------------


def test_console_script_optimizes_in_float64():
    script = Path(sys.executable).parent / "steerjax"
    assert script.exists(), f"console script not installed next to {sys.executable}"
    argv = [str(script), "optimize", "--thermal", "hot", "--c-minus", "10", "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (rec,) = json.loads(proc.stdout)
    assert {k: rec[k] for k in THERMAL_KEYS} == HOT  # the paper's numbers, in float64
    ref = library_optimum(HOT, 10.0)
    assert rec["E"] == float(ref.value) and rec["theta_plus"] == float(ref.design.theta_plus)


# ---------------------------------------------------------------------------------------------
# Conditional scheme (Sec. VI, Appendix B): the CLI's plumbing
# ---------------------------------------------------------------------------------------------


class ConditionalStandIn:
    """Replaces steerjax.optimize for conditional problems: records the Problem and returns the
    unconditional optimum of the same jobs with known values in the conditional-only fields
    (lo_phase = 0.01 k, E_u_* = 1000 + k, 2000 + k for row k).  Unconditional problems are solved
    for real.  (This tests what the CLI passes and writes, not the conditional physics, which
    tests/test_optimize.py covers.)"""

    def __init__(self, real):
        self.real = real
        self.problems = []

    def __call__(self, problem, **kwargs):
        if not problem.conditional:
            return self.real(problem, **kwargs)
        self.problems.append(problem)
        plain = sj.Problem(problem.thermal, problem.C_minus, eps=problem.eps)
        res = self.real(plain, **kwargs)
        k = np.arange(problem.batch_shape[0], dtype=float)
        return eqx.tree_at(
            lambda r: (r.lo_phase, r.E_u_plus_given_minus, r.E_u_minus_given_plus),
            res,
            (np.asarray(0.01 * k), np.asarray(1000 + k), np.asarray(2000 + k)),
        )


def test_conditional_flags_reach_the_problem_and_the_output(capsys, monkeypatch):
    stand_in = ConditionalStandIn(sj.optimize)
    monkeypatch.setattr("steerjax.optim._jobs.optimize", stand_in)
    argv = ["optimize", "--thermal", "hot", "--c-minus", "10", "3", "--conditional"]
    code, out, err = run_cli([*argv, "--efficiency", "0.5", "0.9", "--lo-phase", "0.25pi", "--json"], capsys)
    assert code == 0, err
    (problem,) = stand_in.problems
    assert problem.conditional and problem.batch_shape == (4,)
    np.testing.assert_array_equal(np.asarray(problem.efficiency), [0.5, 0.5, 0.9, 0.9])
    np.testing.assert_array_equal(np.asarray(problem.C_minus), [10.0, 3.0, 10.0, 3.0])
    np.testing.assert_array_equal(np.asarray(problem.lo_phase_bounds), [[0.25 * math.pi] * 2] * 4)
    records = json.loads(out)
    assert [r["efficiency"] for r in records] == [0.5, 0.5, 0.9, 0.9]
    assert all(r["conditional"] is True for r in records)
    assert all(r["lo_phase_min"] == r["lo_phase_max"] == 0.25 * math.pi for r in records)
    assert [r["lo_phase"] for r in records] == [0.0, 0.01, 0.02, 0.03]
    assert [r["E_u_plus_given_minus"] for r in records] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert list(records[0])[-len(optimize_columns.ALL_RESULT_COLUMNS) :] == list(
        optimize_columns.ALL_RESULT_COLUMNS
    )
    # The optimal phase (the default) leaves the library's phase range alone.
    code, out, err = run_cli([*argv, "--lo-phase", "optimal"], capsys)
    assert code == 0, err
    assert np.asarray(stand_in.problems[-1].efficiency).tolist() == [1.0, 1.0]
    default = sj.Problem(sj.Thermal(**HOT), 10.0, conditional=True)
    np.testing.assert_array_equal(
        np.asarray(stand_in.problems[-1].lo_phase_bounds), np.broadcast_to(default.lo_phase_bounds, (2, 2))
    )
    assert "minimising the conditional E_+|-" in out and "LO/pi" in out and "uncond. E" in out
    assert re.search(r"\n +3 +0 +1 .* 0\.00318310 +1001 ", out)  # eta = 1, LO/pi = 0.01/pi


CONDITIONAL_JOBS = """\
id,C_minus,conditional,efficiency,lo_phase_min,lo_phase_max
c1,10,true,0.9,,
u1,10,false,,,
bad-eta-unconditional,10,false,0.5,,
bad-eta,10,yes,1.5,,
bad-bool,10,maybe,,,
bad-phase,10,true,,1,0.5
c2,3,TRUE,,0,0
"""


def test_conditional_batch_columns_are_checked_per_row(tmp_path, capsys, monkeypatch):
    path = tmp_path / "jobs.csv"
    path.write_text(CONDITIONAL_JOBS)
    stand_in = ConditionalStandIn(sj.optimize)
    monkeypatch.setattr("steerjax.optim._jobs.optimize", stand_in)
    code, out, err = run_cli(["optimize", "--from", str(path), "--thermal", "hot"], capsys)
    assert code == 1
    expected = {
        4: "efficiency = 0.5 is a setting of the conditional scheme, but conditional is false",
        5: "efficiency = 1.5 is outside the allowed range [0, 1]",
        6: "conditional: 'maybe' is not true or false",
        7: "lo_phase_min = 1.0 > lo_phase_max = 0.5",
    }
    for line, text in expected.items():
        assert f"{path}:{line}: {text}" in err, (line, err)
    assert len(re.findall(re.escape(str(path)) + r":\d+:", err)) == len(expected)
    (problem,) = stand_in.problems
    np.testing.assert_array_equal(np.asarray(problem.efficiency), [0.9, 1.0])
    np.testing.assert_array_equal(np.asarray(problem.lo_phase_bounds)[1], [0.0, 0.0])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["id"], r["conditional"], r["efficiency"]) for r in rows] == [
        ("c1", "true", "0.9"),
        ("u1", "false", ""),  # not given: an empty cell (was "nan")
        ("c2", "true", "1.0"),
    ]
    assert rows[1]["lo_phase"] == "nan"  # nothing is measured in an unconditional job
    assert float(rows[1]["E_u_plus_given_minus"]) == float(rows[1]["E_plus_given_minus"])
    assert [rows[0]["lo_phase"], rows[2]["lo_phase"]] == ["0.0", "0.01"]


@pytest.mark.parametrize(
    "extra, status, texts",
    [
        (["--efficiency", "0.9"], 2, ["--efficiency", "--conditional"]),
        (["--lo-phase", "0.1"], 2, ["--lo-phase", "--conditional"]),
        (["--conditional", "--lo-phase", "best"], 2, ["--lo-phase", "'best' is not an angle"]),
        (["--conditional", "--efficiency", "1.5"], 1, ["efficiency = 1.5 (--efficiency)", "[0, 1]"]),
    ],
)
def test_conditional_flag_errors(capsys, extra, status, texts):
    code, out, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "10", *extra], capsys)
    assert code == status and out == ""
    for text in texts:
        assert text in err, (text, err)


def test_pinned_angle_optimum_reports_converged(capsys):
    """``--theta-plus-bounds 0.3pi 0.3pi`` pins theta_+ (a degenerate box): the table says
    converged yes and no "did not converge" note is printed; the optimum is checked to be a
    minimum along C_+ with the library's closed forms (moving C_+ either way raises E)."""
    argv = ["optimize", "--thermal", "hot", "--c-minus", "10", "--theta-plus-bounds", "0.3pi", "0.3pi"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    row = [line for line in out.splitlines() if line.split()[:1] == ["10"]]
    assert len(row) == 1 and row[0].split()[-2:] == ["yes", "yes"], out  # converged, at edge
    assert "did not converge" not in err
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["converged"] is True
    E = reevaluate(record).E_plus_given_minus
    for factor in (1 - 1e-4, 1 + 1e-4):
        moved = reevaluate({**record, "C_plus": record["C_plus"] * factor}).E_plus_given_minus
        assert float(moved) > float(E)
