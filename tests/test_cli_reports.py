"""The reports of the command line come from the library: ``steerjax evaluate`` prints the record
of :func:`steerjax.analysis.evaluate_design` (``--json``) or its
:func:`steerjax.analysis.design_report`, so a Python user gets the same output."""

from __future__ import annotations

import json
import math

import pytest

import steerjax as sj
from steerjax._cli import main

DESIGN = ["--theta-plus", "0.4149pi", "--theta-minus", "0.25pi", "--c-plus", "17.67", "--c-minus", "10"]


def design() -> sj.Design:
    return sj.Design(theta_plus=0.4149 * math.pi, theta_minus=0.25 * math.pi, C_plus=17.67, C_minus=10.0)


def cli(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "options"),
    [
        ([], {}),
        (["--conditional", "--efficiency", "0.9"], {"conditional": True, "efficiency": 0.9}),
    ],
)
def test_evaluate_prints_the_library_record_and_report(capsys, flags, options):
    thermal = sj.model.thermal_preset("hot")
    record = sj.analysis.evaluate_design(thermal, design(), preset="hot", **options)
    text = cli(["evaluate", "--thermal", "hot", *DESIGN, *flags], capsys)
    assert text == sj.analysis.design_report(record) + "\n"
    printed = json.loads(cli(["evaluate", "--thermal", "hot", *DESIGN, *flags, "--json"], capsys))
    assert printed == json.loads(json.dumps(record))
    assert sj.analysis.design_report(printed) == sj.analysis.design_report(record)  # from the JSON too


def test_design_report_names_the_engine_and_margins_without_limit():
    thermal = sj.model.thermal_preset("hot")
    at_phase = sj.Design(
        theta_plus=0.4149 * math.pi, theta_minus=0.25 * math.pi, C_plus=17.67, C_minus=10.0, phi=1e-3
    )
    record = sj.analysis.evaluate_design(thermal, at_phase, margins=True)
    assert record["design"]["phi"] == 1e-3 and "sensitivity" in record
    text = sj.analysis.design_report(record, thermal_source="my lab")
    assert "thermal (my lab)" in text and "Gaussian engine at phi = 0.001 rad" in text
    assert "sensitivities and steering margins" in text
    with pytest.raises(NotImplementedError):
        sj.analysis.evaluate_design(thermal, design(), omega_hz=1e6, margins=True)
    with pytest.raises(ValueError, match="omega_hz"):
        sj.analysis.evaluate_design(thermal, design(), omega_hz=-5.0)
