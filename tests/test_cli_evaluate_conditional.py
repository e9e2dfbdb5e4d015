"""Tests of ``steerjax evaluate --conditional`` (conditional steering E_c, Sec. VI / Appendix B).

The CLI is called in-process (``steerjax._cli.main``).  Its numbers are compared with the library
called independently (``steerjax.conditional_steering`` at a given phase, ``steerjax.steering``
for the unconditional columns).  One batch run over a small file with good and bad rows of
every kind is shared by most tests (module-scoped fixture); its rows fit in one padded call of
each compiled conditional function, which the single-design tests reuse, so the conditional
code is compiled only once per function.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
import steerjax.model._conditional
from steerjax import io as numbers
from steerjax._cli import build_parser, main
from steerjax.analysis import _design_batch as evaluate_batch
from steerjax.analysis import _design_batch as evaluate_columns

# The paper's thermal sets (Sec. IV), written out independently of the presets.
THERMAL_VALUES = {
    "hot": {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5},
    "vacuum-server": {"gamma0_plus_hz": 2e4, "nbar_plus": 0.0, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5},
}
DESIGN_KEYS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
DIRECTIONS = ("plus_given_minus", "minus_given_plus")
PI = math.pi

# Designs: (thermal preset, theta_+, theta_-, C_+, C_-, eps), angles as written in the file.
DESIGNS = {
    "A": ("hot", "0.4149pi", "0.25pi", 17.67, 10.0, 0.0),
    "B": ("hot", "0.4pi", "0.35pi", 100.0, 50.0, 0.1),
    "C": ("vacuum-server", "0.4pi", "0.35pi", 100.0, 50.0, 0.0),
    "D": ("vacuum-server", "0.3pi", "0.3pi", 5.0, 20.0, 0.3),
    "E": ("hot", "0.45pi", "0.3pi", 3.0, 2.0, 0.05),
}
ARGS_A = ["--thermal", "hot", "--theta-plus", "0.4149pi", "--theta-minus", "0.25pi"]
ARGS_A += ["--c-plus", "17.67", "--c-minus", "10"]

HEADER = ["id", "thermal", *DESIGN_KEYS, "lo_phase", "efficiency"]
# (id, design, lo_phase cell, efficiency cell); a kind of error for the bad rows
GOOD_ROWS = [
    ("opt-A", "A", "", ""),
    ("opt-B", "B", "optimal", "0.7"),
    ("opt-C", "C", "OPTIMAL", "0.5"),
    ("opt-D", "D", "", "0.9"),
    ("opt-E-eta0", "E", "", "0"),
    ("fix-A", "A", "0.3", "1"),
    ("fix-A-pi", "A", "0.35pi", ""),
    ("fix-C", "C", "-1.2", "0.5"),
    ("fix-D-eta0", "D", "0.7", "0"),
]
BAD_ROWS = [
    ("bad-inf", "A", "inf", "1", r"lo_phase: 'inf' is not a finite angle; allowed: .*'optimal'"),
    ("bad-word", "A", "best", "1", r"lo_phase: 'best' is not an angle; .*0\.35pi.*'optimal'"),
    ("bad-eta-high", "A", "", "1.5", r"efficiency = 1\.5 is outside the allowed range \[0, 1\]$"),
    ("bad-eta-neg", "B", "0.2", "-0.1", r"efficiency = -0\.1 is outside the allowed range \[0, 1\]$"),
    ("bad-eta-text", "B", "", "abc", r"efficiency: 'abc' is not a number"),
    ("bad-unstable", None, "", "1", r"dynamically unstable: gamma_minus/2pi = -"),
]
UNSTABLE_CELLS = ["hot", "0.4pi", "0.2", "100", "50", "0"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``steerjax <argv>`` run in-process."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def design_values(key: str) -> tuple[dict, dict]:
    """(thermal, design) values of one of :data:`DESIGNS`, as floats."""
    preset, tp, tm, cp, cm, eps = DESIGNS[key]
    design = {"theta_plus": numbers.parse_angle(tp), "theta_minus": numbers.parse_angle(tm)}
    design |= {"C_plus": cp, "C_minus": cm, "eps": eps}
    return THERMAL_VALUES[preset], design


def library_conditional(keys: list[str], lo_phase, efficiency) -> dict[str, np.ndarray]:
    """E_c of the designs ``keys`` from :func:`steerjax.conditional_steering` (eager, validated).
    ``lo_phase`` and ``efficiency`` broadcast with a trailing axis: shape ``(len(keys), ...)``."""
    values = [design_values(k) for k in keys]
    th = sj.Thermal(**{n: np.array([t[n] for t, _ in values])[:, None] for n in values[0][0]})
    d = sj.Design(**{n: np.array([x[n] for _, x in values])[:, None] for n in DESIGN_KEYS})
    res = sj.conditional_steering(th, d, np.asarray(lo_phase), np.asarray(efficiency))
    return {key: np.asarray(getattr(res, f"E_{key}")) for key in DIRECTIONS}


class CountingCalls:
    """Wraps a compiled function of the CLI (the same compiled object) and records call shapes."""

    def __init__(self, fn):
        self.fn = fn
        self.calls: list[tuple] = []

    def __call__(self, thermal, design, *rest):
        self.calls.append(np.shape(design.theta_plus))
        return self.fn(thermal, design, *rest)


def _cells(design_key, lo_phase, efficiency) -> list[str]:
    if design_key is None:
        return [*UNSTABLE_CELLS, lo_phase, efficiency]
    preset, tp, tm, cp, cm, eps = DESIGNS[design_key]
    return [preset, tp, tm, repr(cp), repr(cm), repr(eps), lo_phase, efficiency]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One conditional run over :data:`GOOD_ROWS` with :data:`BAD_ROWS` interleaved."""
    tmp = tmp_path_factory.mktemp("conditional")
    lines = ["# conditional designs", ",".join(HEADER)]
    good_lines, bad_lines = {}, {}
    bad = list(BAD_ROWS)
    for ident, key, lo, eta in GOOD_ROWS:
        if bad:
            b_ident, b_key, b_lo, b_eta, reason = bad.pop(0)
            lines.append(",".join([b_ident, *_cells(b_key, b_lo, b_eta)]))
            bad_lines[len(lines)] = reason
        lines.append(",".join([ident, *_cells(key, lo, eta)]))
        good_lines[ident] = len(lines)
    path, out = tmp / "designs.csv", tmp / "results.csv"
    path.write_text("\n".join(lines) + "\n")
    counters = {
        name: CountingCalls(getattr(evaluate_batch, name))
        for name in ("_conditional_fixed_batch", "_conditional_optimal_batch")
    }
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        for name, counter in counters.items():
            mp.setattr(evaluate_batch, name, counter)
        code = main(["evaluate", "--from", str(path), "--out", str(out), "--conditional"])
    with open(out, newline="") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    return {
        "code": code,
        "stderr": err.getvalue(),
        "path": path,
        "out": out,
        "rows": rows,
        "bad_lines": bad_lines,
        "counters": counters,
    }


def column(batch, ids, name) -> np.ndarray:
    return np.array([float(batch["rows"][i][name]) for i in ids])


OPTIMAL_IDS = [r[0] for r in GOOD_ROWS if r[0].startswith("opt")]
FIXED_IDS = [r[0] for r in GOOD_ROWS if r[0].startswith("fix")]


# ---------------------------------------------------------------------------------------------
# Parsing and flags
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("optimal", None),
        (" Optimal ", None),
        ("0.35pi", 0.35 * PI),
        ("pi/4", PI / 4),
        ("-1.2", -1.2),
        ("0", 0.0),
    ],
)
def test_parse_lo_phase(text, expected):
    assert numbers.parse_lo_phase(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("inf", "'inf' is not a finite angle"),
        ("nan", "'nan' is not a finite angle"),
        ("best", "'best' is not an angle"),
    ],
)
def test_parse_lo_phase_rejects_other_text_saying_what_is_allowed(text, message):
    with pytest.raises(ValueError, match=re.escape(message) + ".*'optimal'"):
        numbers.parse_lo_phase(text)


@pytest.mark.parametrize(
    "extra, status, texts",
    [
        (
            ["--lo-phase", "0.1"],
            2,
            ["--lo-phase is a setting of the conditional scheme", "add --conditional"],
        ),
        (
            ["--efficiency", "0.9"],
            2,
            ["--efficiency is a setting of the conditional scheme", "--conditional"],
        ),
        (
            ["--conditional", "--lo-phase", "inf"],
            2,
            ["--lo-phase", "'inf' is not a finite angle", "'optimal'"],
        ),
        (["--conditional", "--lo-phase", "best"], 2, ["--lo-phase", "'best' is not an angle", "0.35pi"]),
        (["--conditional", "--efficiency", "1.5"], 1, ["efficiency = 1.5 (--efficiency)", "[0, 1]"]),
        (["--conditional", "--efficiency", "-0.2"], 1, ["efficiency = -0.2 (--efficiency)", "[0, 1]"]),
        # nan is refused by the parser, in flags as in cells (it was a range error, status 1)
        (["--conditional", "--efficiency", "nan"], 2, ["--efficiency", "'nan' is not allowed"]),
    ],
)
def test_bad_conditional_flags_name_the_flag_value_and_range(capsys, extra, status, texts):
    code, out, err = run_cli(["evaluate", *ARGS_A, *extra], capsys)
    assert code == status and out == ""
    for text in texts:
        assert text in err, (text, err)


def test_help_states_the_unit_of_every_conditional_flag(capsys):
    code, out, _ = run_cli(["evaluate", "--help"], capsys)
    assert code == 0
    sub = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    actions = {a.dest: a for a in sub._actions}
    assert "--conditional" in out and "--efficiency" in out and "--lo-phase" in out
    assert "[dimensionless]" in actions["efficiency"].help and "[0, 1]" in actions["efficiency"].help
    assert "[rad]" in actions["lo_phase"].help and "optimal" in actions["lo_phase"].help
    for name in (*evaluate_columns.CONDITIONAL_INPUT_COLUMNS, *evaluate_columns.CONDITIONAL_RESULT_COLUMNS):
        assert name in out


# ---------------------------------------------------------------------------------------------
# Many designs
# ---------------------------------------------------------------------------------------------


def test_batch_reports_bad_rows_with_their_lines_and_writes_the_good_ones(batch):
    assert batch["code"] == 1
    reported = {}
    for line in batch["stderr"].splitlines():
        m = re.match(re.escape(str(batch["path"])) + r":(\d+): (.*)$", line)
        if m:
            reported[int(m[1])] = m[2]
    assert set(reported) == set(batch["bad_lines"])
    for line, reason in batch["bad_lines"].items():
        assert re.search(reason, reported[line]), (line, reported[line])
    assert list(batch["rows"]) == [r[0] for r in GOOD_ROWS]


def test_batch_output_columns(batch):
    first = next(iter(batch["rows"].values()))
    # lo_phase and efficiency are columns of the file, so they keep their places; the thermal
    # values (from the thermal column) follow the file's columns, as without --conditional.
    assert list(first) == [
        *HEADER,
        *THERMAL_VALUES["hot"],
        *evaluate_columns.RESULT_COLUMNS,
        *[c for c in evaluate_columns.CONDITIONAL_RESULT_COLUMNS if c != "efficiency"],
        evaluate_columns.CONDITIONAL_REGIME_COLUMN,
    ]
    rows = batch["rows"]
    assert [rows[i]["lo_phase"] for i in ("opt-A", "opt-B", "opt-C")] == ["optimal"] * 3
    assert rows["fix-A"]["lo_phase"] == "0.3" and rows["fix-A-pi"]["lo_phase"] == repr(0.35 * PI)
    assert [rows[i]["efficiency"] for i in ("opt-A", "opt-B", "fix-A-pi", "fix-D-eta0")] == [
        "1.0",
        "0.7",
        "1.0",
        "0.0",
    ]
    for r in rows.values():  # full float64 precision: every number round-trips
        for name in (*evaluate_columns.NUMERIC_RESULT_COLUMNS, *evaluate_columns.CONDITIONAL_RESULT_COLUMNS):
            assert repr(float(r[name])) == r[name]


def test_each_group_is_one_padded_compiled_call(batch):
    counters = batch["counters"]
    assert counters["_conditional_optimal_batch"].calls == [(8,)]  # 5 rows, padded to 8
    assert counters["_conditional_fixed_batch"].calls == [(8,)]  # 4 rows


def test_unconditional_columns_are_unchanged_and_conditioning_never_increases_E(batch):
    ids = [r[0] for r in GOOD_ROWS]
    keys = [r[1] for r in GOOD_ROWS]
    for i, key in zip(ids, keys, strict=True):
        thermal, design = design_values(key)
        res = sj.steering(sj.Thermal(**thermal), sj.Design(**design))
        for d in DIRECTIONS:  # batched (jit) vs eager: equal to rounding
            assert float(batch["rows"][i][f"E_{d}"]) == pytest.approx(
                float(getattr(res, f"E_{d}")), rel=1e-14
            )
    for d in DIRECTIONS:
        E, E_c = column(batch, ids, f"E_{d}"), column(batch, ids, f"E_c_{d}")
        assert np.all(np.isfinite(E_c)) and np.all(E_c <= E * (1 + 1e-12)), d
    # Measured designs are steered better (strictly, somewhere).
    assert np.any(
        column(batch, ["opt-A"], "E_c_minus_given_plus")
        < 0.9 * column(batch, ["opt-A"], "E_minus_given_plus")
    )


def test_zero_efficiency_reproduces_the_unconditional_E(batch):
    ids = ["opt-E-eta0", "fix-D-eta0"]
    for d in DIRECTIONS:
        np.testing.assert_allclose(
            column(batch, ids, f"E_c_{d}"), column(batch, ids, f"E_{d}"), rtol=1e-10, atol=0
        )


def test_fixed_phase_equals_the_library_at_that_phase(batch):
    rows = {r[0]: r for r in GOOD_ROWS}
    keys = [rows[i][1] for i in FIXED_IDS]
    psi = np.array([numbers.parse_angle(rows[i][2]) for i in FIXED_IDS])
    eta = np.array([float(rows[i][3] or 1.0) for i in FIXED_IDS])
    ref = library_conditional(keys, psi[:, None], eta[:, None])
    for d in DIRECTIONS:
        np.testing.assert_array_equal(column(batch, FIXED_IDS, f"lo_phase_{d}"), psi)
        np.testing.assert_allclose(column(batch, FIXED_IDS, f"E_c_{d}"), ref[d][:, 0], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(column(batch, FIXED_IDS, "efficiency"), eta)


def test_optimal_phase_is_no_worse_than_any_of_181_phases(batch):
    rows = {r[0]: r for r in GOOD_ROWS}
    keys = [rows[i][1] for i in OPTIMAL_IDS]
    eta = column(batch, OPTIMAL_IDS, "efficiency")
    assert eta.tolist() == [1.0, 0.7, 0.5, 0.9, 0.0]
    scan = library_conditional(keys, np.linspace(0.0, PI, 181)[None, :], eta[:, None])
    for d in DIRECTIONS:
        psi, E_c = column(batch, OPTIMAL_IDS, f"lo_phase_{d}"), column(batch, OPTIMAL_IDS, f"E_c_{d}")
        assert np.all((psi >= 0) & (psi < PI)), d
        assert np.all(E_c <= scan[d].min(axis=1) * (1 + 1e-12)), (d, E_c, scan[d].min(axis=1))
        # The value written is E_c at the phase written (an independent evaluation).
        at_psi = library_conditional(keys, psi[:, None], eta[:, None])[d][:, 0]
        np.testing.assert_allclose(E_c, at_psi, rtol=1e-12, atol=0)


def test_a_conditional_results_file_evaluates_again_to_itself(batch, tmp_path, capsys):
    again = tmp_path / "again.csv"
    code, _, err = run_cli(
        ["evaluate", "--from", str(batch["out"]), "--out", str(again), "--conditional"], capsys
    )
    assert code == 0, err
    assert again.read_text() == batch["out"].read_text()
    assert "'E_c_plus_given_minus'" in err and "replaced by this run's results" in err


def test_conditional_flags_fill_columns_the_file_lacks(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text(
        "theta_plus,theta_minus,C_plus,C_minus,eps\n0.4149pi,0.25pi,17.67,10,0\n0.4pi,0.35pi,100,50,0.1\n"
    )
    argv = ["evaluate", "--from", str(path), "--thermal", "hot", "--conditional"]
    code, out, err = run_cli([*argv, "--lo-phase", "0.35pi", "--efficiency", "0.8"], capsys)
    assert code == 0, err
    got = list(csv.DictReader(io.StringIO(out)))
    assert list(got[0])[-6:] == [
        *evaluate_columns.CONDITIONAL_RESULT_COLUMNS,
        evaluate_columns.CONDITIONAL_REGIME_COLUMN,
    ]
    assert "lo_phase" not in got[0]
    ref = library_conditional(["A", "B"], 0.35 * PI, 0.8)
    for d in DIRECTIONS:
        assert [float(r[f"lo_phase_{d}"]) for r in got] == [0.35 * PI] * 2
        np.testing.assert_allclose([float(r[f"E_c_{d}"]) for r in got], ref[d][:, 0], rtol=1e-12, atol=0)
    assert [r["efficiency"] for r in got] == ["0.8", "0.8"]
    assert f"lo_phase = {0.35 * PI!r} (--lo-phase); efficiency = 0.8 (--efficiency)" in err


def test_conditional_columns_need_conditional_and_may_not_repeat_a_flag(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("theta_plus,theta_minus,C_plus,C_minus,lo_phase\n0.4149pi,0.25pi,17.67,10,0\n")
    code, out, err = run_cli(["evaluate", "--from", str(path), "--thermal", "hot"], capsys)
    assert code == 2 and out == ""
    assert "column lo_phase" in err and "add --conditional" in err
    path.write_text("theta_plus,theta_minus,C_plus,C_minus,efficiency\n0.4149pi,0.25pi,17.67,10,0.5\n")
    argv = ["evaluate", "--from", str(path), "--thermal", "hot", "--conditional", "--efficiency", "0.5"]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert "efficiency is a column" in err and "--efficiency" in err


# ---------------------------------------------------------------------------------------------
# One design
# ---------------------------------------------------------------------------------------------


def test_single_design_json_has_the_conditional_keys(batch, capsys):
    code, out, err = run_cli(["evaluate", *ARGS_A, "--conditional", "--json"], capsys)
    assert code == 0, err
    rec = json.loads(out)
    assert rec["conditional"] == {"lo_phase": "optimal", "efficiency": 1.0}
    result = rec["result"]
    for name in evaluate_columns.CONDITIONAL_RESULT_COLUMNS:
        assert isinstance(result[name], float), name
    for d in DIRECTIONS:  # the same numbers as the batch row of the same design
        row = batch["rows"]["opt-A"]
        assert result[f"E_c_{d}"] == pytest.approx(float(row[f"E_c_{d}"]), rel=1e-13)
        assert result[f"lo_phase_{d}"] == pytest.approx(float(row[f"lo_phase_{d}"]), abs=1e-9)
        assert result[f"steering_c_{d}"] == (result[f"E_c_{d}"] < 0.5)
        assert result[f"E_{d}"] == pytest.approx(float(row[f"E_{d}"]), rel=1e-14)


def _expected_regime(e_pm: float, e_mp: float) -> str:
    """Reid's bound 1/2 in each direction, written out here (not steerjax.classify)."""
    plus, minus = e_pm < 0.5, e_mp < 0.5
    if plus and minus:
        return "two-way"
    if plus:
        return "one-way client=>server"
    return "one-way server=>client" if minus else "none"


def test_conditional_regime_column_follows_the_conditional_E(batch, capsys):
    """``regime_c`` classifies the two E_c as ``regime`` classifies the two E; the single-design
    output (text and JSON) says the same for the same design."""
    kinds = set()
    for ident, row in batch["rows"].items():
        e_pm, e_mp = float(row["E_c_plus_given_minus"]), float(row["E_c_minus_given_plus"])
        assert row[evaluate_columns.CONDITIONAL_REGIME_COLUMN] == _expected_regime(e_pm, e_mp), ident
        assert row["regime"] == _expected_regime(
            float(row["E_plus_given_minus"]), float(row["E_minus_given_plus"])
        )
        kinds.add(row[evaluate_columns.CONDITIONAL_REGIME_COLUMN])
    assert len(kinds) >= 2  # the file covers more than one regime
    code, out, err = run_cli(["evaluate", *ARGS_A, "--conditional", "--json"], capsys)
    assert code == 0, err
    assert (
        json.loads(out)["result"][evaluate_columns.CONDITIONAL_REGIME_COLUMN]
        == batch["rows"]["opt-A"]["regime_c"]
    )
    code, out, err = run_cli(["evaluate", *ARGS_A, "--conditional"], capsys)
    assert code == 0, err
    assert f"regime (conditional): {batch['rows']['opt-A']['regime_c']}" in out


def test_single_design_fixed_phase_equals_the_library(capsys):
    argv = ["evaluate", *ARGS_A, "--conditional", "--lo-phase", "0.35pi", "--efficiency", "0.9", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    rec = json.loads(out)
    assert rec["conditional"] == {"lo_phase": 0.35 * PI, "efficiency": 0.9}
    ref = library_conditional(["A"], 0.35 * PI, 0.9)
    for d in DIRECTIONS:
        assert rec["result"][f"lo_phase_{d}"] == 0.35 * PI
        assert rec["result"][f"E_c_{d}"] == pytest.approx(float(ref[d][0, 0]), rel=1e-12)
    assert rec["result"]["efficiency"] == 0.9


def test_single_design_text_shows_the_conditional_results(capsys):
    code, out, err = run_cli(["evaluate", *ARGS_A, "--conditional", "--efficiency", "0.5"], capsys)
    assert code == 0, err
    assert "conditional steering" in out and "efficiency eta = 0.5" in out
    assert "lo_phase: optimised for each direction" in out
    assert re.search(
        r"E_c,\+\|- \(client => server\) = [\d.e-]+ +(no )?steering +at lo_phase = [\d.e-]+ rad", out
    )
    assert re.search(r"E_c,-\|\+ \(server => client\) = [\d.e-]+ +(no )?steering +at lo_phase = ", out)


def test_without_conditional_the_output_is_unchanged(capsys):
    code, out, _ = run_cli(["evaluate", *ARGS_A, "--json"], capsys)
    assert code == 0
    rec = json.loads(out)
    assert "conditional" not in rec and not any(k.startswith(("E_c_", "lo_phase")) for k in rec["result"])


# ---------------------------------------------------------------------------------------------
# The phase search itself, on a stand-in E_c whose minima are known and off the grid
# ---------------------------------------------------------------------------------------------


def test_phase_search_finds_off_grid_minima_and_wraps_the_period(monkeypatch):
    def fake(r, phi, lo_phase, efficiency):
        where = r.eps * PI  # the design's eps sets where E_+|- is minimal (value 1)
        e_pm = 2.0 - jnp.cos(2.0 * (lo_phase - where))
        e_mp = 2.0 + 0.5 * jnp.sin(2.0 * lo_phase + 1.0) + 0.3 * jnp.cos(8.0 * lo_phase) + 0.0 * where
        return e_pm, e_mp

    monkeypatch.setattr(steerjax.model._best_phase, "conditional_steering_from_rates", fake)
    eps = np.array([0.1024, 0.9995, 0.0, 0.5])
    th = sj.Thermal(**{k: np.full(4, v) for k, v in THERMAL_VALUES["hot"].items()})
    d = sj.Design(np.full(4, 0.4 * PI), np.full(4, 0.35 * PI), np.full(4, 100.0), np.full(4, 50.0), eps)
    best = jax.jit(steerjax.model._best_phase.best_phase_from_rates)(sj.cascade_rates(th, d), np.ones(4))
    psi_pm, psi_mp = np.asarray(best.lo_phase_plus_given_minus), np.asarray(best.lo_phase_minus_given_plus)
    e_pm, e_mp = np.asarray(best.E_plus_given_minus), np.asarray(best.E_minus_given_plus)
    assert np.all((psi_pm >= 0) & (psi_pm < PI)) and np.all((psi_mp >= 0) & (psi_mp < PI))
    dist = np.abs((psi_pm - eps * PI + PI / 2) % PI - PI / 2)
    assert np.all(dist < 1e-5), dist
    assert np.all(e_pm - 1.0 < 1e-9)
    dense = np.linspace(0.0, PI, 200001)
    f = 2.0 + 0.5 * np.sin(2.0 * dense + 1.0) + 0.3 * np.cos(8.0 * dense)
    assert np.all(e_mp <= f.min() + 1e-9)
    np.testing.assert_allclose(
        e_mp, 2.0 + 0.5 * np.sin(2.0 * psi_mp + 1.0) + 0.3 * np.cos(8.0 * psi_mp), rtol=1e-14
    )
