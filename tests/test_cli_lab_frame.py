"""``steerjax evaluate --omega-hz`` / ``omega_hz`` column and ``optimize --omega-hz`` flag checks.

The lab-frame E written by the CLI is checked against the independent numpy model of
``tests/reference_lab_frame.py``; bad frequencies are reported per row (the good rows are still
written) or refused as flags.  (The optimiser itself: ``tests/test_lab_frame_optimize.py``.)
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from reference_lab_frame import covariance, rates_from_theta, schur_E
from steerjax._cli import main

HOT = dict(gamma0=0.1, nbar=1e5)
DESIGN = dict(theta_plus=0.4149 * math.pi, theta_minus=0.2505 * math.pi, C_plus=176.7, C_minus=100.0)

ROWS = """\
id,theta_plus,theta_minus,C_plus,C_minus,omega_hz,phi
lab,0.4149pi,0.2505pi,176.7,100,1.3e6,-0.0157
paper,0.4149pi,0.2505pi,176.7,100,,0
bad-omega,0.4149pi,0.2505pi,176.7,100,-3,0
fast,0.4149pi,0.2505pi,176.7,100,1e9,0
"""


def _reference(omega, phi):
    S = covariance(
        rates_from_theta(DESIGN["theta_minus"], DESIGN["C_minus"], **HOT),
        rates_from_theta(DESIGN["theta_plus"], DESIGN["C_plus"], **HOT),
        0.0,
        phi,
        omega,
    )
    return schur_E(S, "plus"), schur_E(S, "minus")


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_batch_lab_frame_rows(tmp_path, capsys):
    path = tmp_path / "designs.csv"
    path.write_text(ROWS)
    code, out, err = _run(["evaluate", "--thermal", "hot", "--from", str(path)], capsys)
    assert code == 1  # one bad row
    assert f"{path}:4: omega_hz = -3.0 is outside the allowed range (0, inf) [Hz]" in err
    assert "Gamma/Omega > 0.1 (largest 1.36)" in err and "off by up to" in err
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert list(rows) == ["lab", "paper", "fast"]
    for name in ("lab", "fast"):
        r = rows[name]
        e_pm, e_mp = _reference(float(r["omega_hz"]), float(r["phi"]))
        assert float(r["E_plus_given_minus"]) == pytest.approx(e_pm, rel=1e-9)
        assert float(r["E_minus_given_plus"]) == pytest.approx(e_mp, rel=1e-9)
        assert float(r["E_plus_given_minus_reid_fixed"]) >= float(r["E_plus_given_minus"]) * (1 - 1e-12)
    paper = rows["paper"]
    assert paper["omega_hz"] == "" and paper["E_plus_given_minus_reid_fixed"] == ""
    # the paper's model, unchanged, and the lab frame far above the rates agrees with it
    assert float(rows["fast"]["E_plus_given_minus"]) == pytest.approx(
        float(paper["E_plus_given_minus"]), rel=1e-5
    )
    assert abs(float(rows["lab"]["E_plus_given_minus"]) / float(paper["E_plus_given_minus"]) - 1) > 0.05


def test_single_design_json(capsys):
    argv = ["evaluate", "--thermal", "hot", "--theta-plus", "0.4149pi", "--theta-minus", "0.2505pi"]
    argv += ["--c-plus", "176.7", "--c-minus", "100", "--omega-hz", "1.3e6", "--json"]
    code, out, err = _run(argv, capsys)
    assert code == 0
    rec = json.loads(out)
    e_pm, e_mp = _reference(1.3e6, 0.0)
    assert rec["result"]["E_plus_given_minus"] == pytest.approx(e_pm, rel=1e-9)
    assert rec["result"]["E_minus_given_plus"] == pytest.approx(e_mp, rel=1e-9)
    lab = rec["lab_frame"]
    assert lab["omega_hz"] == 1.3e6 and lab["gamma_over_omega"] == pytest.approx(1.3592376, rel=1e-6)
    assert 0 <= lab["instant_plus_given_minus"] < math.pi / 2
    assert "Gamma/Omega = 1.36 > 0.1" in err
    err_paper = lab["E_plus_given_minus_paper"] / e_pm - 1
    assert f"{100 * err_paper:+.3g} %" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["evaluate", "--omega-hz", "1e6", "--conditional"], "not supported with --conditional"),
        (["optimize", "--c-minus", "10", "--phi-bounds", "-2", "0"], "-pi/2 <= LO <= HI <= pi/2"),
        (["optimize", "--c-minus", "10", "--omega-hz", "-1"], "(0, inf) (Hz)"),
    ],
)
def test_bad_flags(extra, message, capsys):
    argv = [extra[0], "--thermal", "hot", *extra[1:]]
    if extra[0] == "evaluate":
        argv += ["--theta-plus", "1.2", "--theta-minus", "1.1", "--c-plus", "2", "--c-minus", "2"]
    code, out, err = _run(argv, capsys)
    assert code in (1, 2) and message in err, err
    assert out == ""
