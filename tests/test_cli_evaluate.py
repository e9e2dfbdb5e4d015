"""Tests of ``steerjax evaluate`` and of the shared CLI helpers.

Most tests call the CLI in-process (``steerjax._cli.main``); one runs the installed console
script, as a newcomer would.  Numbers are compared with the library called directly on the same
inputs: the CLI must add nothing and lose nothing (float equality after the text round trip).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import steerjax as sj
from steerjax import io as numbers
from steerjax import io as tables
from steerjax._cli import _messages as messages
from steerjax._cli import build_parser, main
from steerjax.analysis import _design_batch as evaluate_batch
from steerjax.analysis import _design_batch as evaluate_columns

# The paper's thermal sets (Sec. IV, Figs. 4-8), written out here independently of the presets.
HOT_VALUES = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
VACUUM_SERVER_VALUES = {"gamma0_plus_hz": 2e4, "nbar_plus": 0.0, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
THERMAL_KEYS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")
DESIGN_KEYS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
DESIGN_ARGS = ["--theta-plus", "0.4pi", "--theta-minus", "0.35pi", "--c-plus", "100", "--c-minus", "50"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``steerjax <argv>`` run in-process."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def thermal_flags(values: dict) -> list[str]:
    return [a for k in THERMAL_KEYS for a in ("--" + k.replace("_", "-"), repr(values[k]))]


def library_result(thermal_values: dict, design_values: dict) -> dict:
    res = sj.steering(sj.Thermal(**thermal_values), sj.Design(**design_values))
    return {name: float(getattr(res, name)) for name in res.__dataclass_fields__}


# ---------------------------------------------------------------------------------------------
# Angles
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.1", 1.1),
        ("-2e-3", -2e-3),
        (" 0.7 ", 0.7),
        ("0.35pi", 0.35 * math.pi),
        ("0.35*pi", 0.35 * math.pi),
        ("0.35 * pi", 0.35 * math.pi),
        ("0.35 pi", 0.35 * math.pi),
        (".35pi", 0.35 * math.pi),
        ("3.5e-1pi", 0.35 * math.pi),
        ("pi", math.pi),
        ("PI/2", math.pi / 2),
        ("pi/4", math.pi / 4),
        ("pi / 4", math.pi / 4),
        ("3pi/8", 3 * math.pi / 8),
        ("3*pi/8", 3 * math.pi / 8),
        ("-pi/4", -math.pi / 4),
        ("+0.25pi", 0.25 * math.pi),
        ("π/4", math.pi / 4),
    ],
)
def test_parse_angle_accepts_radians_and_multiples_of_pi(text, expected):
    assert numbers.parse_angle(text) == expected


@pytest.mark.parametrize(
    "text", ["abc", "0.35pie", "pi/", "*pi", "0.35p", "", "pi/0", "pi pi", "0.35pi/4/2", "1/4"]
)
def test_parse_angle_rejects_other_text_with_a_clear_message(text):
    with pytest.raises(ValueError, match=re.escape(repr(text.strip())) + r".*(pi|zero)"):
        numbers.parse_angle(text)


@pytest.mark.parametrize(
    "flag_value, expected",
    [("0.35pi", 0.35 * math.pi), ("0.35*pi", 0.35 * math.pi), ("7pi/20", 7 * math.pi / 20), ("1.1", 1.1)],
)
def test_angle_flags_accept_every_form(capsys, flag_value, expected):
    argv = ["evaluate", "--thermal", "hot", "--theta-plus", "0.4pi", "--theta-minus", flag_value]
    code, out, _ = run_cli([*argv, "--c-plus", "100", "--c-minus", "50", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["design"]["theta_minus"] == expected


def test_bad_angle_flag_is_a_usage_error_naming_the_flag(capsys):
    code, out, err = run_cli(["evaluate", "--thermal", "hot", "--theta-plus", "0.4pie"], capsys)
    assert code == 2 and out == ""
    assert "--theta-plus" in err and "'0.4pie'" in err and "0.35pi" in err


# ---------------------------------------------------------------------------------------------
# One design
# ---------------------------------------------------------------------------------------------


def test_single_design_json_equals_the_library(capsys):
    code, out, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_ARGS, "--eps", "0.1", "--json"], capsys)
    assert code == 0, err
    rec = json.loads(out)
    design = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 100.0, "C_minus": 50.0}
    design["eps"] = 0.1
    assert rec["design"] == design
    assert rec["thermal"] == {"preset": "hot", **HOT_VALUES}
    expected = library_result(HOT_VALUES, design)
    result = rec["result"]
    for name, value in expected.items():  # every field of SteeringResult, bit for bit
        assert result[name] == value, name
    assert result["ratio"] == expected["E_plus_given_minus"] / expected["E_minus_given_plus"]
    code_expected = int(sj.classify(expected["E_plus_given_minus"], expected["E_minus_given_plus"]))
    assert result["regime_code"] == code_expected
    assert result["regime"] == sj.model.regime_name(code_expected)
    assert result["steering_plus_given_minus"] == (expected["E_plus_given_minus"] < 0.5)
    assert result["steering_minus_given_plus"] == (expected["E_minus_given_plus"] < 0.5)
    assert rec["steering_bound"] == 0.5


def test_single_design_text_shows_design_verdicts_regime_and_rates(capsys):
    code, out, _ = run_cli(["evaluate", "--thermal", "vacuum-server", *DESIGN_ARGS], capsys)
    assert code == 0
    design = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 100.0, "C_minus": 50.0}
    r = library_result(VACUUM_SERVER_VALUES, design)
    assert "0.4 pi" in out and "0.35 pi" in out and repr(0.4 * math.pi) in out
    for key in ("E_plus_given_minus", "E_minus_given_plus"):
        verdict = "steering" if r[key] < 0.5 else "no steering"
        assert re.search(rf"= {re.escape(f'{r[key]:.12g}')} +{verdict}\n", out), key
    code = int(sj.classify(r["E_plus_given_minus"], r["E_minus_given_plus"]))
    assert f"regime: {sj.model.regime_name(code)}" in out
    assert f"gamma_+/2pi = {r['gamma_plus_hz']:.10g} Hz" in out
    assert f"gamma_-/2pi = {r['gamma_minus_hz']:.10g} Hz" in out
    assert f"f = 2R/gamma_+ = {r['f']:.10g}" in out
    assert "preset vacuum-server" in out and "20000 Hz" in out


def test_thermal_preset_equals_explicit_flags_and_flags_override_a_preset(capsys):
    preset = json.loads(run_cli(["evaluate", "--thermal", "hot", *DESIGN_ARGS, "--json"], capsys)[1])
    explicit = json.loads(
        run_cli(["evaluate", *thermal_flags(HOT_VALUES), *DESIGN_ARGS, "--json"], capsys)[1]
    )
    assert explicit["thermal"]["preset"] is None
    assert preset["result"] == explicit["result"]
    assert preset["thermal"] | {"preset": None} == explicit["thermal"]
    # An explicit flag overrides the preset's value for its field only.
    argv = ["evaluate", "--thermal", "hot", "--nbar-plus", "0", *DESIGN_ARGS, "--json"]
    mixed = json.loads(run_cli(argv, capsys)[1])
    assert mixed["thermal"] == {"preset": "hot", **HOT_VALUES, "nbar_plus": 0.0}
    design = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 100.0, "C_minus": 50.0}
    expected = library_result({**HOT_VALUES, "nbar_plus": 0.0}, design)
    assert {k: mixed["result"][k] for k in expected} == expected


@pytest.mark.parametrize(
    "thermal_argv, missing",
    [
        ([], "--gamma0-plus-hz"),
        (["--gamma0-plus-hz", "0.1", "--nbar-plus", "1e5"], "--gamma0-minus-hz, --nbar-minus"),
    ],
)
def test_incomplete_thermal_parameters_are_a_usage_error(capsys, thermal_argv, missing):
    code, out, err = run_cli(["evaluate", *thermal_argv, *DESIGN_ARGS], capsys)
    assert code == 2 and out == ""
    assert "thermal parameters are incomplete" in err and missing in err and "--thermal" in err


def test_missing_design_flag_is_a_usage_error(capsys):
    code, _, err = run_cli(["evaluate", "--thermal", "hot", "--theta-plus", "0.4pi", "--c-plus", "1"], capsys)
    assert code == 2
    assert "--theta-minus" in err and "--c-minus" in err and "--from" in err


@pytest.mark.parametrize(
    "extra, names",
    [
        (["--c-minus", "-5"], ["C_minus = -5.0", "(0, inf)"]),
        (["--eps", "1"], ["eps = 1.0", "[0, 1)"]),
        (["--theta-plus", "0.6pi"], ["theta_plus = " + repr(0.6 * math.pi), "[0, pi/2]"]),
        (["--nbar-plus", "-1"], ["nbar_plus = -1.0", "[0, inf)"]),
        (["--gamma0-minus-hz", "0"], ["gamma0_minus_hz = 0.0", "(0, inf) Hz"]),
    ],
)
def test_out_of_domain_single_design_fails_naming_the_parameter(capsys, extra, names):
    code, out, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_ARGS, *extra], capsys)
    assert code == 1 and out == ""
    for text in names:
        assert text in err


def test_unstable_single_design_fails_naming_the_oscillator(capsys):
    # theta_- = 0.2 rad is far below pi/4: the down-conversion part wins, gamma_- < 0.
    argv = ["evaluate", "--thermal", "hot", "--theta-plus", "0.4pi", "--theta-minus", "0.2"]
    code, out, err = run_cli([*argv, "--c-plus", "100", "--c-minus", "50"], capsys)
    assert code == 1 and out == ""
    assert "unstable" in err and "theta_minus" in err and "gamma_minus" in err


def test_usage_errors_for_flags_that_do_not_go_together(capsys, tmp_path):
    assert (
        run_cli(["evaluate", "--thermal", "hot", *DESIGN_ARGS, "--out", str(tmp_path / "x")], capsys)[0] == 2
    )
    assert not (tmp_path / "x").exists()
    (tmp_path / "d.csv").write_text("theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,100,50\n")
    code, _, err = run_cli(
        ["evaluate", "--from", str(tmp_path / "d.csv"), "--thermal", "hot", "--json"], capsys
    )
    assert code == 2 and "--json" in err


def test_help_explains_every_flag_with_its_unit(capsys):
    code, out, _ = run_cli(["evaluate", "--help"], capsys)
    assert code == 0
    parser = build_parser()
    sub = parser._subparsers._group_actions[0]
    evaluate_parser = sub.choices["evaluate"]
    physical = 0
    for action in evaluate_parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help and action.option_strings[-1] in out
        if action.dest in (*DESIGN_KEYS, *THERMAL_KEYS):
            physical += 1
            assert re.search(r"\[(rad|Hz|quanta|dimensionless)\]", action.help), action.dest
    assert physical == 9
    for column in (*DESIGN_KEYS, *THERMAL_KEYS, *evaluate_columns.RESULT_COLUMNS):
        assert column in out


# ---------------------------------------------------------------------------------------------
# Many designs
# ---------------------------------------------------------------------------------------------


def random_stable_rows(n: int, seed: int) -> list[dict]:
    """Random designs and thermal sets, stable with a margin (numpy, independent of the library):
    stability is cos(2 theta_j) < 1/(C_j (nbar_j + 1/2)) for both oscillators."""
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        th = {
            "gamma0_plus_hz": 10 ** rng.uniform(-2, 4),
            "nbar_plus": float(rng.choice([0.0, 10 ** rng.uniform(0, 5)])),
            "gamma0_minus_hz": 10 ** rng.uniform(-2, 4),
            "nbar_minus": 10 ** rng.uniform(0, 5),
        }
        d = {
            "theta_plus": rng.uniform(0, np.pi / 2),
            "theta_minus": rng.uniform(0, np.pi / 2),
            "C_plus": 10 ** rng.uniform(-1, 3),
            "C_minus": 10 ** rng.uniform(-1, 3),
            "eps": float(rng.choice([0.0, rng.uniform(0, 0.9)])),
        }
        margin = [
            1.0 / (d[f"C_{s}"] * (th[f"nbar_{s}"] + 0.5)) - np.cos(2 * d[f"theta_{s}"])
            for s in ("plus", "minus")
        ]
        if min(margin) > 1e-6:
            rows.append({**d, **th})
    return rows


def write_designs(path: Path, rows: list[dict], bad: dict[int, str], header: list[str]) -> dict[int, str]:
    """Write ``rows`` as CSV (full precision), with a comment and a blank line for good measure,
    and the raw ``bad`` lines inserted before the given row indices.  Returns
    ``{line_number: kind}`` of the bad lines and sets ``row["_line"]`` of the good rows."""
    lines = ["# generated by test_cli_evaluate", ",".join(header)]
    bad_lines = {}
    for i, row in enumerate(rows):
        if i in bad:
            kind, text = bad[i]
            lines.append(text)
            bad_lines[len(lines)] = kind
        if i == 10:
            lines.append("")
        lines.append(",".join(str(row[k]) if k != "id" else row[k] for k in header))
        row["_line"] = len(lines)
    path.write_text("\n".join(lines) + "\n")
    return bad_lines


def reference_results(rows: list[dict]) -> dict[str, np.ndarray]:
    """The library's results for the good rows: one jitted batched call, like the CLI's."""
    th = sj.Thermal(**{k: np.array([r[k] for r in rows]) for k in THERMAL_KEYS})
    d = sj.Design(**{k: np.array([r[k] for r in rows]) for k in DESIGN_KEYS})
    res = jax.jit(lambda t, x: sj.steering(t, x, on_invalid="nan"))(th, d)
    return {name: np.asarray(getattr(res, name)) for name in res.__dataclass_fields__}


HEADER = ["id", *DESIGN_KEYS, *THERMAL_KEYS]
HOT_ROW = "bad,{},{},100,50,0,0.1,100000,0.1,100000"
BAD_ROWS = {
    # row index: (kind, raw line)
    5: ("text", "bad-text,0.4,0.3pie,100,50,0,0.1,1e5,0.1,1e5"),
    77: ("text", "bad-text,0.4,1.1,abc,50,0,0.1,1e5,0.1,1e5"),
    78: ("empty", "bad-empty,0.4,1.1,10,50,0,0.1,1e5,0.1,"),
    300: ("domain", "bad-domain,0.4pi,0.35pi,100,-2,0,0.1,1e5,0.1,1e5"),
    301: ("domain", "bad-domain,0.6pi,0.35pi,100,2,0,0.1,1e5,0.1,1e5"),
    302: ("domain2", "bad-domain,0.4pi,0.35pi,100,2,1.0,0.1,-1,0.1,1e5"),
    640: ("domain", "bad-domain,0.4pi,0.35pi,100,2,0,0,1e5,0.1,1e5"),
    900: ("unstable", HOT_ROW.format("0.4pi", "0.2")),
    901: ("unstable", HOT_ROW.format("0.1", "0.35pi")),
    1500: ("cells", "bad-cells,0.4pi,0.35pi,100,50"),
    1501: ("cells", "bad-cells,0.4pi,0.35pi,100,50,0,0.1,1e5,0.1,1e5,7"),
}
REASONS = {
    "text": r"(theta_minus: '0\.3pie' is not an angle|C_plus: 'abc' is not a number)",
    "empty": r"nbar_minus: empty cell",
    "domain": r"(C_minus = -2\.0 is outside the allowed range \(0, inf\)"
    r"|theta_plus = 1\.88\d* is outside the allowed range \[0, pi/2\]"
    r"|gamma0_plus_hz = 0\.0 is outside the allowed range \(0, inf\) Hz)",
    "domain2": r"eps = 1\.0 is outside the allowed range \[0, 1\); nbar_plus = -1\.0 is outside",
    "unstable": r"dynamically unstable: gamma_(minus|plus)/2pi = -[\d.e+]+ Hz <= 0 \(theta_(minus|plus) = ",
    "cells": r"the row has (5|11) cells but the header has 10 columns",
}


class CountingBatch:
    """Stands in for the CLI's compiled batch function: counts calls and traces."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.traces = 0

        def body(t, d):
            self.traces += 1
            return sj.steering(t, d, on_invalid="nan")

        self._jitted = jax.jit(body)

    def __call__(self, t, d):
        self.calls.append(np.shape(d.theta_plus))
        return self._jitted(t, d)


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """One run over ~2000 designs with bad rows of every kind (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("batch")
    rows = random_stable_rows(2000, seed=1)
    for i, row in enumerate(rows):
        row["id"] = f"design-{i}"
    rows[3]["theta_plus"] = "0.35pi"  # the pi form inside a file
    rows[4]["theta_minus"] = "pi/4"
    bad_lines = write_designs(tmp / "designs.csv", rows, BAD_ROWS, HEADER)
    counter = CountingBatch()
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr(evaluate_batch, "_steering_batch", counter)
        code = main(["evaluate", "--from", str(tmp / "designs.csv"), "--out", str(tmp / "results.csv")])
    with open(tmp / "results.csv", newline="") as fh:
        out_rows = list(csv.DictReader(fh))
    rows[3]["theta_plus"] = 0.35 * math.pi
    rows[4]["theta_minus"] = math.pi / 4
    return {
        "code": code,
        "stderr": err.getvalue(),
        "rows": rows,
        "bad_lines": bad_lines,
        "out": out_rows,
        "path": tmp / "designs.csv",
        "counter": counter,
    }


def test_batch_reports_each_bad_row_with_its_line_and_reason(batch_run):
    assert batch_run["code"] == 1
    reported = {}
    for line in batch_run["stderr"].splitlines():
        m = re.match(re.escape(str(batch_run["path"])) + r":(\d+): (.*)$", line)
        if m:
            reported[int(m[1])] = m[2]
    assert set(reported) == set(batch_run["bad_lines"])  # every bad line, and no good one
    for line, kind in batch_run["bad_lines"].items():
        assert re.search(REASONS[kind], reported[line]), (line, reported[line])


def test_batch_writes_every_good_row_with_the_input_repeated(batch_run):
    rows, out = batch_run["rows"], batch_run["out"]
    assert len(out) == len(rows)
    assert list(out[0]) == [*HEADER, *evaluate_columns.RESULT_COLUMNS]
    for row, got in zip(rows, out, strict=True):
        assert got["id"] == row["id"]
        for k in (*DESIGN_KEYS, *THERMAL_KEYS):
            assert float(got[k]) == row[k]


def test_batch_results_round_trip_exactly_to_the_library(batch_run):
    rows, out = batch_run["rows"], batch_run["out"]
    ref = reference_results(rows)
    for name in ("E_plus_given_minus", "E_minus_given_plus", "gamma_plus_hz", "gamma_minus_hz", "f"):
        got = np.array([float(r[name]) for r in out])
        assert np.all(np.isfinite(ref[name]))
        np.testing.assert_array_equal(got, ref[name], err_msg=name)
    codes = np.asarray(sj.classify(ref["E_plus_given_minus"], ref["E_minus_given_plus"]))
    assert [r["regime"] for r in out] == [sj.model.regime_name(c) for c in codes]
    assert len(set(codes.tolist())) >= 3  # the random designs cover several regimes


def test_batch_is_evaluated_by_one_compiled_call(batch_run):
    counter = batch_run["counter"]
    assert counter.calls == [(len(batch_run["rows"]),)]
    assert counter.traces == 1


def test_large_batches_are_chunked_with_one_compilation(tmp_path, monkeypatch, capsys):
    rows = random_stable_rows(700, seed=2)
    header = [*DESIGN_KEYS, *THERMAL_KEYS]
    write_designs(tmp_path / "d.csv", rows, {}, header)
    counter = CountingBatch()
    monkeypatch.setattr(evaluate_batch, "_steering_batch", counter)
    monkeypatch.setattr(evaluate_batch, "CHUNK_ROWS", 256)
    code, _, err = run_cli(
        ["evaluate", "--from", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r.csv")], capsys
    )
    assert code == 0, err
    assert counter.calls == [(256,)] * 3 and counter.traces == 1
    with open(tmp_path / "r.csv", newline="") as fh:
        out = list(csv.DictReader(fh))
    ref = reference_results(rows)
    got = np.array([float(r["E_minus_given_plus"]) for r in out])
    np.testing.assert_array_equal(got, ref["E_minus_given_plus"])


def test_missing_columns_come_from_the_flags_and_eps_defaults_to_zero(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("theta_plus,theta_minus\n0.4pi,0.35pi\n0.45pi,0.3pi\n")
    argv = ["evaluate", "--from", str(path), "--thermal", "vacuum-server", "--nbar-minus", "1e4"]
    code, out, err = run_cli([*argv, "--c-plus", "100", "--c-minus", "50"], capsys)
    assert code == 0, err
    got = list(csv.DictReader(io.StringIO(out)))  # no --out: CSV on stdout
    thermal = {**VACUUM_SERVER_VALUES, "nbar_minus": 1e4}
    for row, (tp, tm) in zip(got, [(0.4, 0.35), (0.45, 0.3)], strict=True):
        design = {"theta_plus": tp * math.pi, "theta_minus": tm * math.pi, "C_plus": 100.0, "C_minus": 50.0}
        design["eps"] = 0.0
        assert {k: float(row[k]) for k in (*DESIGN_KEYS, *THERMAL_KEYS)} == {**design, **thermal}
        expected = library_result(thermal, design)
        assert float(row["E_plus_given_minus"]) == pytest.approx(expected["E_plus_given_minus"], rel=1e-14)
    assert "eps = 0.0 (default)" in err and "(--thermal vacuum-server)" in err and "(--c-plus)" in err


def test_missing_required_column_is_an_error_naming_it(tmp_path, capsys):
    path, out = tmp_path / "d.csv", tmp_path / "r.csv"
    path.write_text("theta_plus,theta_minus,C_minus\n0.4pi,0.35pi,50\n")
    out.write_text("previous results\n")
    code, _, err = run_cli(["evaluate", "--from", str(path), "--out", str(out), "--thermal", "hot"], capsys)
    assert code == 1
    assert "missing required column C_plus" in err and "--c-plus" in err
    assert out.read_text() == "previous results\n"  # a run that fails before writing leaves it alone


def test_flag_for_a_column_the_file_has_is_a_usage_error(tmp_path, capsys):
    path, out = tmp_path / "d.csv", tmp_path / "r.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus,nbar_plus\n0.4pi,0.35pi,100,50,0\n")
    out.write_text("previous results\n")
    code, _, err = run_cli(
        ["evaluate", "--from", str(path), "--out", str(out), "--thermal", "hot", "--nbar-plus", "1"], capsys
    )
    assert code == 2 and "nbar_plus is a column" in err and "--nbar-plus" in err
    assert out.read_text() == "previous results\n"


@pytest.mark.parametrize("target", ["a-directory", "a-file/inside"])
def test_unwritable_destination_leaves_no_partial_file(tmp_path, capsys, target):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "d.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,100,50\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "a-directory").mkdir()
    (dest / "a-file").write_text("keep")
    code, _, err = run_cli(
        ["evaluate", "--from", str(path), "--out", str(dest / target), "--thermal", "hot"], capsys
    )
    assert code == 1 and "cannot write" in err
    assert sorted(p.name for p in dest.rglob("*")) == ["a-directory", "a-file"]
    assert (dest / "a-file").read_text() == "keep"


def test_failure_while_writing_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    path, out = tmp_path / "d.csv", tmp_path / "r.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,100,50\n")
    out.write_text("previous results\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    code, _, err = run_cli(["evaluate", "--from", str(path), "--out", str(out), "--thermal", "hot"], capsys)
    assert code == 1 and "No space left on device" in err
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "r.csv"]  # no temporary file left


# ---------------------------------------------------------------------------------------------
# Shared helpers (reused by other commands)
# ---------------------------------------------------------------------------------------------


def test_read_table_handles_string_columns_defaults_and_per_row_errors(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        "Thermal,eps,note\n\nhot,0.1,a\nwarm,0.2,b\n# comment\nvacuum_server,x,c\nhot,0,d,extra\n"
    )
    columns = [
        tables.Column("thermal", parse=numbers.parse_preset_name, numeric=False),
        tables.Column("eps"),
        tables.Column("C_minus", default=50.0),
    ]
    table = tables.read_table(path, columns, source="jobs.csv")
    assert table.header == ["thermal", "eps", "note"] and table.in_file == {"thermal", "eps"}
    assert table.lines.tolist() == [3, 4, 6, 7]
    assert table.ok.tolist() == [True, False, False, False]
    assert table.values["thermal"].tolist() == ["hot", None, "vacuum-server", None]
    assert table.values["C_minus"].tolist() == [50.0] * 4
    assert table.extra["note"] == ["a", "b", "c", "d"]
    errors = table.error_messages()
    assert errors[0].startswith("jobs.csv:4: thermal: 'warm' is not a thermal preset")
    assert errors[1] == "jobs.csv:6: eps: 'x' is not a number"
    assert errors[2] == "jobs.csv:7: the row has 4 cells but the header has 3 columns"
    tables.reject_out_of_domain(table, ["eps", "C_minus"])
    assert table.ok.tolist() == [True, False, False, False]
    with pytest.raises(messages.InputError, match="missing required column C_plus"):
        tables.read_table(path, [tables.Column("C_plus")])


# ---------------------------------------------------------------------------------------------
# The installed console script (the newcomer's path)
# ---------------------------------------------------------------------------------------------


def test_console_script_evaluates_a_preset_design_in_float64():
    script = Path(sys.executable).parent / "steerjax"
    assert script.exists(), f"console script not installed next to {sys.executable}"
    argv = [str(script), "evaluate", "--thermal", "vacuum-server", *DESIGN_ARGS, "--eps", "0.1", "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    # The preset must be the paper's numbers in float64, although the script imports steerjax
    # before it enables x64 (0.1 in float32 would be 0.10000000149...).
    assert rec["thermal"] == {"preset": "vacuum-server", **VACUUM_SERVER_VALUES}
    design = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 100.0, "C_minus": 50.0}
    expected = library_result(VACUUM_SERVER_VALUES, {**design, "eps": 0.1})
    assert {k: rec["result"][k] for k in expected} == expected


def test_phi_column_and_a_results_file_evaluates_again_to_itself(tmp_path, capsys):
    path, out, again = tmp_path / "d.csv", tmp_path / "r.csv", tmp_path / "r2.csv"
    path.write_text(
        "theta_plus,theta_minus,C_plus,C_minus,phi\n0.4pi,0.35pi,100,50,0\n0.4pi,0.35pi,100,50,0.1\n"
    )
    code, _, err = run_cli(["evaluate", "--from", str(path), "--out", str(out), "--thermal", "hot"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert [r["phi"] for r in rows] == ["0.0", "0.1"]  # phi != 0: the Gaussian engine
    assert rows[0]["E_plus_given_minus"] != rows[1]["E_plus_given_minus"]
    # The output is a valid input: its result columns are recomputed, to the same bits.
    code, _, err = run_cli(["evaluate", "--from", str(out), "--out", str(again)], capsys)
    assert code == 0, err
    assert again.read_text() == out.read_text()
    assert "'E_plus_given_minus'" in err and "replaced by this run's results" in err


THERMAL_COLUMN_FILE = """id,thermal,theta_plus,theta_minus,C_plus,C_minus,nbar_plus
a,hot,0.4pi,0.35pi,100,50,
b,Vacuum_Server,0.4pi,0.35pi,100,50,
c,hot,0.4pi,0.35pi,100,50,0
d,,0.4pi,0.35pi,100,50,
e,warm,0.4pi,0.35pi,100,50,
"""


def test_thermal_values_per_row_from_a_preset_column_own_columns_and_flags(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text(THERMAL_COLUMN_FILE)
    code, out, err = run_cli(["evaluate", "--from", str(path), "--thermal", "vacuum-server"], capsys)
    assert code == 1
    assert re.search(rf"{re.escape(str(path))}:6: thermal: 'warm' is not a thermal preset", err)
    assert len(re.findall(re.escape(str(path)) + r":\d+:", err)) == 1
    got = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in got] == ["a", "b", "c", "d"]
    assert [r["thermal"] for r in got] == ["hot", "vacuum-server", "hot", ""]
    expected_thermal = [
        HOT_VALUES,
        VACUUM_SERVER_VALUES,
        {**HOT_VALUES, "nbar_plus": 0.0},
        VACUUM_SERVER_VALUES,
    ]
    design = {"theta_plus": 0.4 * math.pi, "theta_minus": 0.35 * math.pi, "C_plus": 100.0, "C_minus": 50.0}
    rows = [{**design, "eps": 0.0, **th} for th in expected_thermal]
    for row, r in zip(rows, got, strict=True):
        assert {k: float(r[k]) for k in row} == row
    ref = reference_results(rows)
    np.testing.assert_array_equal([float(r["E_plus_given_minus"]) for r in got], ref["E_plus_given_minus"])
    # Without --thermal, the row with an empty preset cell has no thermal values.
    code, _, err = run_cli(["evaluate", "--from", str(path)], capsys)
    assert code == 1
    assert re.search(rf"{re.escape(str(path))}:5: no value for gamma0_plus_hz: no such column", err)


def test_no_source_of_thermal_values_is_one_error_for_the_file(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus,nbar_plus\n" + "0.4pi,0.35pi,100,50,0\n" * 50)
    code, out, err = run_cli(["evaluate", "--from", str(path), "--nbar-minus", "0"], capsys)
    assert code == 1 and out == ""
    assert "no thermal parameters for gamma0_plus_hz, gamma0_minus_hz" in err and "--thermal" in err
    assert len(err.strip().splitlines()) == 1
