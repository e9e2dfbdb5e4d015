"""Tests of ``steerjax evaluate`` with an inter-subsystem phase (``--phi``, a ``phi`` column) and
of ``--margins`` (gradients and steering margins), and of the library helper behind the first,
:func:`steerjax.model.steering_result_at_phase`.

The CLI is called in-process (``steerjax._cli.main``).  Its numbers are compared with the library
called independently here: :func:`steerjax.steering_at_phase` for rows with phi != 0,
:func:`steerjax.steering` and the output of a run without phi for rows with phi = 0,
:func:`steerjax.design_sensitivity` for the margin columns, plus one check of a margin that uses
only :func:`steerjax.steering` / :func:`steerjax.steering_at_phase` (E at the nominal value
moved by the margin is 1/2).  The ``--margins`` runs have at most 8 designs, so that they share
one compilation of the sensitivity function.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math

import numpy as np
import pytest

import steerjax as sj
from steerjax._cli import main
from steerjax.analysis import _design_batch as evaluate_columns

HOT = {"gamma0_plus_hz": 0.1, "nbar_plus": 1e5, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
VACUUM_SERVER = {"gamma0_plus_hz": 2e4, "nbar_plus": 0.0, "gamma0_minus_hz": 0.1, "nbar_minus": 1e5}
THERMAL_KEYS = tuple(HOT)
DESIGN_KEYS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
RESULT_FLOATS = ("E_plus_given_minus", "E_minus_given_plus", "gamma_plus_hz", "gamma_minus_hz", "f")
PI = math.pi
DESIGN_A = ["--theta-plus", "0.4pi", "--theta-minus", "0.35pi", "--c-plus", "100", "--c-minus", "50"]

# id, thermal, theta_+, theta_-, C_+, C_-, eps, phi (as written in the file)
ROWS = [
    ("a0", "hot", "0.4pi", "0.35pi", "100", "50", "0", "0"),
    ("a1", "hot", "0.4pi", "0.35pi", "100", "50", "0", "0.01"),
    ("b0", "vacuum-server", "0.4pi", "0.35pi", "100", "50", "0.1", "0"),
    ("b1", "vacuum-server", "0.4pi", "0.35pi", "100", "50", "0.1", "-pi/4"),
    ("c0", "hot", "0.4149pi", "0.25pi", "17.67", "10", "0", "0"),
    ("c1", "hot", "0.4149pi", "0.25pi", "17.67", "10", "0", "1e-3"),
    ("d1", "hot", "0.3pi", "0.3pi", "5", "20", "0.3", "3pi/8"),
]
BAD_PHI = [  # id, phi cell, words of the message
    ("x-nan", "nan", ("phi", "nan")),
    ("x-inf", "inf", ("phi = inf", "outside the allowed range (-inf, inf)")),
    ("x-text", "abc", ("phi", "'abc' is not an angle")),
]
HEADER = "id,thermal,theta_plus,theta_minus,C_plus,C_minus,eps,phi"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``steerjax <argv>`` run in-process."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def angle(text: str) -> float:
    """The angles of :data:`ROWS` as floats, written out here (not the CLI's parser)."""
    return {
        "0.4pi": 0.4 * PI,
        "0.35pi": 0.35 * PI,
        "0.4149pi": 0.4149 * PI,
        "0.25pi": 0.25 * PI,
        "0.3pi": 0.3 * PI,
        "-pi/4": -PI / 4,
        "3pi/8": 3 * PI / 8,
    }.get(text) or float(text)


def thermal_of(name: str) -> dict:
    return {"hot": HOT, "vacuum-server": VACUUM_SERVER}[name]


def design_of(row) -> dict:
    _, _, tp, tm, cp, cm, eps, phi = row
    return {
        "theta_plus": angle(tp),
        "theta_minus": angle(tm),
        "C_plus": float(cp),
        "C_minus": float(cm),
        "eps": float(eps),
        "phi": angle(phi),
    }


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def write_rows(path, rows, header=HEADER, drop_phi=False):
    lines = [header if not drop_phi else header.rsplit(",", 1)[0]]
    for row in rows:
        lines.append(",".join(row[:-1] if drop_phi else row))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def phi_run(tmp_path_factory):
    """One batch run over :data:`ROWS` and the bad rows, and one over the phi = 0 rows without
    a phi column (today's input)."""
    tmp = tmp_path_factory.mktemp("phi")
    path, out = tmp / "designs.csv", tmp / "results.csv"
    bad = [("x", "hot", "0.4pi", "0.35pi", "100", "50", "0", cell) for _, cell, _ in BAD_PHI]
    bad = [(name, *row[1:]) for (name, _, _), row in zip(BAD_PHI, bad, strict=True)]
    write_rows(path, ROWS[:3] + bad + ROWS[3:])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["evaluate", "--from", str(path), "--out", str(out), "-q"])
    zero_rows = [r for r in ROWS if r[-1] == "0"]
    path0, out0 = tmp / "zero.csv", tmp / "zero_results.csv"
    write_rows(path0, zero_rows, drop_phi=True)
    with contextlib.redirect_stderr(io.StringIO()):
        code0 = main(["evaluate", "--from", str(path0), "--out", str(out0), "-q"])
    return {
        "code": code,
        "err": err.getvalue(),
        "path": path,
        "rows": read_csv(out.read_text()),
        "code0": code0,
        "rows0": read_csv(out0.read_text()),
        "text0": out0.read_text(),
    }


def test_library_steering_result_at_phase_is_steering_at_phase_plus_the_rates():
    th = sj.Thermal(**HOT)
    for phi in (0.0, 1e-3, -0.7, 2.0):
        d = sj.Design(0.4 * PI, 0.35 * PI, 100.0, 50.0, 0.05, phi)
        res = sj.model.steering_result_at_phase(th, d)
        e_pm, e_mp = sj.steering_at_phase(th, d)
        assert float(res.E_plus_given_minus) == float(e_pm)
        assert float(res.E_minus_given_plus) == float(e_mp)
        closed = sj.steering(th, sj.Design(0.4 * PI, 0.35 * PI, 100.0, 50.0, 0.05))
        for name in ("gamma_plus_hz", "gamma_minus_hz", "f", "bare_var_plus", "bare_var_minus"):
            assert float(getattr(res, name)) == float(getattr(closed, name)), name
        S = np.asarray(sj.covariance(th, d))
        np.testing.assert_allclose(
            [float(res.var_plus), float(res.var_minus), float(res.cov)],
            [S[2, 2], S[0, 0], S[2, 0]],
            rtol=1e-13,
        )
        if phi == 0.0:  # a different formula from the closed forms, equal to rounding
            for name in ("E_plus_given_minus", "E_minus_given_plus", "var_plus", "var_minus", "cov"):
                np.testing.assert_allclose(
                    float(getattr(res, name)), float(getattr(closed, name)), rtol=1e-13
                )
    # invalid inputs: the library's message, or NaN
    with pytest.raises(ValueError, match="phi"):
        sj.model.steering_result_at_phase(th, sj.Design(0.4 * PI, 0.35 * PI, 100.0, 50.0, phi=math.inf))
    res = sj.model.steering_result_at_phase(
        th, sj.Design(0.4 * PI, 0.35 * PI, np.asarray([100.0, -1.0]), 50.0, phi=0.1), on_invalid="nan"
    )
    assert math.isfinite(float(res.E_plus_given_minus[0])) and math.isnan(float(res.E_plus_given_minus[1]))


def test_rows_with_phi_equal_the_gaussian_engine(phi_run):
    rows = {r["id"]: r for r in phi_run["rows"]}
    for row in ROWS:
        d = design_of(row)
        if d["phi"] == 0:
            continue
        th = sj.Thermal(**thermal_of(row[1]))
        e_pm, e_mp = sj.steering_at_phase(th, sj.Design(**d))
        out = rows[row[0]]
        assert float(out["phi"]) == d["phi"]
        # jit (CLI) and eager (here) may differ in the last bits
        np.testing.assert_allclose(float(out["E_plus_given_minus"]), float(e_pm), rtol=1e-13, atol=0)
        np.testing.assert_allclose(float(out["E_minus_given_plus"]), float(e_mp), rtol=1e-13, atol=0)
        closed = sj.steering(th, sj.Design(**{k: v for k, v in d.items() if k != "phi"}))
        for name in ("gamma_plus_hz", "gamma_minus_hz", "f"):  # independent of phi
            assert float(out[name]) == float(getattr(closed, name)), name
        code = int(sj.classify(float(out["E_plus_given_minus"]), float(out["E_minus_given_plus"])))
        assert out["regime"] == sj.model.regime_name(code)


def test_rows_at_phi_zero_equal_todays_output_exactly(phi_run):
    assert phi_run["code0"] == 0
    assert "phi" not in phi_run["rows0"][0]  # no phi given: no phi column, as today
    rows = {r["id"]: r for r in phi_run["rows"]}
    for old in phi_run["rows0"]:
        new = rows[old["id"]]
        assert new["phi"] == "0.0"
        for name, text in old.items():
            assert new[name] == text, (old["id"], name)  # the same text, so the same bits
    for old in phi_run["rows0"]:  # and they are the closed forms of the library (jit vs eager)
        d = {k: float(old[k]) for k in DESIGN_KEYS}
        res = sj.steering(sj.Thermal(**{k: float(old[k]) for k in THERMAL_KEYS}), sj.Design(**d))
        for name in RESULT_FLOATS:
            np.testing.assert_allclose(float(old[name]), float(getattr(res, name)), rtol=1e-14, err_msg=name)


def test_bad_phi_cells_are_reported_with_line_and_column_and_good_rows_written(phi_run):
    assert phi_run["code"] == 1
    err = phi_run["err"]
    path = phi_run["path"]
    for k, (_, _, words) in enumerate(BAD_PHI):
        line = next(m for m in err.splitlines() if m.startswith(f"{path}:{5 + k}:"))
        for w in words:
            assert w in line, (line, w)
    assert [r["id"] for r in phi_run["rows"]] == [r[0] for r in ROWS]


def test_phi_flag_gives_every_row_its_phi_and_a_phi_column(tmp_path, capsys, phi_run):
    path = tmp_path / "d.csv"
    write_rows(path, ROWS[:1], drop_phi=True)
    code, out, err = run_cli(["evaluate", "--from", str(path), "--phi", "0.01", "-q"], capsys)
    assert code == 0, err
    (row,) = read_csv(out)
    (ref,) = [r for r in phi_run["rows"] if r["id"] == "a1"]  # the same design at phi = 0.01
    assert {**row, "id": "a1"} == ref
    # --phi 0: today's numbers, plus a phi column
    code, out, err = run_cli(["evaluate", "--from", str(path), "--phi", "0", "-q"], capsys)
    assert code == 0, err
    (row,) = read_csv(out)
    (old,) = [r for r in phi_run["rows0"] if r["id"] == "a0"]
    assert row == {**old, "phi": "0.0"}
    assert list(row)[-len(evaluate_columns.RESULT_COLUMNS) - 1] == "phi"
    # a flag may not repeat a column
    code, _, err = run_cli(["evaluate", "--from", str(phi_run["path"]), "--phi", "0.1"], capsys)
    assert code == 2 and "phi is a column of" in err and "--phi" in err


def test_single_design_with_phi_equals_steering_at_phase(capsys):
    code, out, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--phi", "0.01", "--json"], capsys)
    assert code == 0, err
    rec = json.loads(out)
    d = {"theta_plus": 0.4 * PI, "theta_minus": 0.35 * PI, "C_plus": 100.0, "C_minus": 50.0, "eps": 0.0}
    assert rec["design"] == {**d, "phi": 0.01}
    e_pm, e_mp = sj.steering_at_phase(sj.Thermal(**HOT), sj.Design(**d, phi=0.01))
    assert rec["result"]["E_plus_given_minus"] == float(e_pm)
    assert rec["result"]["E_minus_given_plus"] == float(e_mp)
    # text: phi shown, the engine named
    code, out, _ = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--phi", "pi/100"], capsys)
    assert code == 0 and f"phi     = {PI / 100!r} rad (0.01 pi)" in out and "Gaussian engine" in out
    # no --phi: the design has no phi key (today's output)
    code, out, _ = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--json"], capsys)
    assert "phi" not in json.loads(out)["design"]
    # --phi 0: the closed forms, bit for bit
    code, out0, _ = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--json", "--phi", "0"], capsys)
    assert json.loads(out0)["result"] == json.loads(out)["result"]


@pytest.mark.parametrize(
    "value, status, words",
    [
        ("nan", 2, ("--phi", "nan")),
        ("inf", 1, ("phi = inf", "(-inf, inf)")),
        ("x", 2, ("--phi", "not an angle")),
    ],
)
def test_bad_phi_flag_names_the_flag_or_the_range(capsys, value, status, words):
    code, _, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--phi", value], capsys)
    assert code == status
    for w in words:
        assert w in err


def test_conditional_with_phi_fixed_lo_phase_and_optimal_rejected(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text(
        "id,theta_plus,theta_minus,C_plus,C_minus,phi,lo_phase\n"
        "p,0.4149pi,0.25pi,17.67,10,0.01,0.3\n"
        "q,0.4149pi,0.25pi,17.67,10,0.01,optimal\n"
        "z,0.4149pi,0.25pi,17.67,10,0,0.3\n"
    )
    code, out, err = run_cli(
        ["evaluate", "--from", str(path), "--thermal", "hot", "--conditional", "-q"], capsys
    )
    assert code == 1
    assert f"{path}:3: phi = 0.01 with lo_phase optimal" in err and "fixed lo_phase" in err
    rows = {r["id"]: r for r in read_csv(out)}
    assert set(rows) == {"p", "z"}
    d = {"theta_plus": 0.4149 * PI, "theta_minus": 0.25 * PI, "C_plus": 17.67, "C_minus": 10.0}
    for name, phi in (("p", 0.01), ("z", 0.0)):
        ref = sj.conditional_steering(sj.Thermal(**HOT), sj.Design(**d, phi=phi), 0.3, 1.0)
        np.testing.assert_allclose(
            float(rows[name]["E_c_plus_given_minus"]), float(ref.E_plus_given_minus), rtol=1e-10
        )
        np.testing.assert_allclose(
            float(rows[name]["E_c_minus_given_plus"]), float(ref.E_minus_given_plus), rtol=1e-10
        )
    # phi = 0 rows: the same as without a phi column
    path0 = tmp_path / "c0.csv"
    path0.write_text("id,theta_plus,theta_minus,C_plus,C_minus,lo_phase\nz,0.4149pi,0.25pi,17.67,10,0.3\n")
    code, out0, err = run_cli(
        ["evaluate", "--from", str(path0), "--thermal", "hot", "--conditional", "-q"], capsys
    )
    assert code == 0, err
    (old,) = read_csv(out0)
    assert {k: rows["z"][k] for k in old} == old
    # one design: optimal with phi != 0 is a usage error naming the flags
    argv = ["evaluate", "--thermal", "hot", "--theta-plus", "0.4149pi", "--theta-minus", "0.25pi"]
    argv += ["--c-plus", "17.67", "--c-minus", "10", "--conditional", "--phi", "0.01"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "--phi 0.01 with --lo-phase optimal" in err


# ---------------------------------------------------------------------------------------------
# --margins
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def margins_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("margins")
    path = tmp / "designs.csv"
    rows = [ROWS[0], ROWS[1], ROWS[3], ROWS[4]]
    bad = ("bad", "hot", "0.4pi", "0.35pi", "-5", "50", "0", "0")
    write_rows(path, rows[:2] + [bad] + rows[2:])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["evaluate", "--from", str(path), "--margins", "-q"])
    return {
        "code": code,
        "err": err.getvalue(),
        "rows": read_csv(out.getvalue()),
        "input": rows,
        "path": path,
    }


def test_margins_columns_equal_design_sensitivity(margins_run):
    assert margins_run["code"] == 1
    assert f"{margins_run['path']}:4: C_plus = -5.0 is outside the allowed range" in margins_run["err"]
    out = margins_run["rows"]
    assert [r["id"] for r in out] == [r[0] for r in margins_run["input"]]
    names = evaluate_columns.SENSITIVITY_RESULT_COLUMNS
    assert list(out[0])[-len(names) :] == list(names)
    designs = [design_of(r) for r in margins_run["input"]]
    thermals = [thermal_of(r[1]) for r in margins_run["input"]]
    th = sj.Thermal(**{k: np.asarray([t[k] for t in thermals]) for k in THERMAL_KEYS})
    d = sj.Design(**{k: np.asarray([x[k] for x in designs]) for k in (*DESIGN_KEYS, "phi")})
    ref = sj.analysis.sensitivity_columns(sj.design_sensitivity(th, d))
    assert set(ref) == set(names)
    for name in names:
        got = np.asarray([float(r[name]) for r in out])
        np.testing.assert_allclose(got, np.asarray(ref[name]), rtol=1e-9, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("param", ["theta_minus", "C_minus", "phi"])
def test_a_margin_moves_E_to_one_half(margins_run, param):
    """Independent check of one design's margins: E_+|- at x0 -/+ margin is 1/2 on one side."""
    (row,) = [r for r in margins_run["rows"] if r["id"] == "a0"]
    margin = float(row[f"margin_{param}"])
    assert 0 < margin < math.inf
    d0 = design_of(ROWS[0])
    values = []
    for sign in (-1, 1):
        d = {**d0, param: d0[param] + sign * margin}
        if d["phi"] == 0:
            e = float(sj.steering(sj.Thermal(**HOT), sj.Design(**d)).E_plus_given_minus)
        else:
            e = float(sj.steering_at_phase(sj.Thermal(**HOT), sj.Design(**d))[0])
        values.append(e)
    assert min(abs(e - 0.5) for e in values) < 1e-9, values
    assert max(values) <= 0.5 + 1e-9


def test_single_design_margins_text_and_json(capsys, margins_run):
    (row,) = [r for r in margins_run["rows"] if r["id"] == "a0"]
    code, out, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--margins"], capsys)
    assert code == 0, err
    block = out.split("sensitivities and steering margins", 1)[1]
    for name in evaluate_columns.SENSITIVITY_PARAMETERS:
        line = next(ln for ln in block.splitlines() if ln.startswith(f"  {name} "))
        assert evaluate_columns.SENSITIVITY_UNITS[name] in line.split()[1]
        assert f"{float(row[f'margin_{name}']):.6g}" in line
    code, out, err = run_cli(["evaluate", "--thermal", "hot", *DESIGN_A, "--margins", "--json"], capsys)
    assert code == 0, err
    rec = json.loads(out)
    assert rec["sensitivity_units"] == dict(evaluate_columns.SENSITIVITY_UNITS)
    for name in evaluate_columns.SENSITIVITY_RESULT_COLUMNS:
        value = rec["sensitivity"][name]
        expected = float(row[name])
        assert (value is None) if expected == math.inf else (value == expected), name


def test_help_documents_phi_and_margins_with_units(capsys):
    code, out, _ = run_cli(["evaluate", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    assert "--phi RAD" in out and "inter-subsystem phase phi [rad]" in flat
    assert "--margins" in out and "[1/unit of x]" in flat and "[unit of x]" in flat
    assert "margin_minus_given_plus_<x>" in flat and "dE_plus_given_minus_d<x>" in flat
    assert "phi [rad] optional" in flat or "phi [rad]" in flat
