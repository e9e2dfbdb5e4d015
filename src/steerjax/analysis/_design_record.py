"""One design's results as JSON-ready records: the steering result, the conditional E_c and the
lab-frame values (what ``steerjax evaluate --json`` prints)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..io._text import LO_PHASE_OPTIMAL
from ..model import STEERING_BOUND, regime_name, rotating_wave_ratio
from ..model._steering import SteeringResult
from ._design_batch import (
    CONDITIONAL_REGIME_COLUMN,
    CONDITIONAL_RESULT_COLUMNS,
    _regime_names,
    lab_frame_single,
)

__all__ = ["result_record", "conditional_record", "lab_frame_record"]


def _as_float(x) -> float:
    return float(np.asarray(x))


def result_record(result: SteeringResult) -> dict:
    """All fields of a scalar :class:`steerjax.SteeringResult` as floats, plus ``ratio``,
    ``regime`` (name), ``regime_code`` and the two verdicts."""
    rec = {f.name: _as_float(getattr(result, f.name)) for f in dataclasses.fields(result)}
    rec["ratio"] = _as_float(result.ratio)
    code = int(np.asarray(result.regime))
    rec["regime"] = regime_name(code)
    rec["regime_code"] = code
    rec["steering_plus_given_minus"] = bool(rec["E_plus_given_minus"] < STEERING_BOUND)
    rec["steering_minus_given_plus"] = bool(rec["E_minus_given_plus"] < STEERING_BOUND)
    return rec


def conditional_record(lo_phase: float | None, values: dict[str, np.ndarray]) -> dict:
    """One design's conditional results (from :func:`evaluate_conditional`) as a JSON-ready
    dict: the columns :data:`CONDITIONAL_RESULT_COLUMNS`, the requested ``lo_phase`` (a number
    or ``"optimal"``) and the verdicts."""
    rec = {name: float(values[name][0]) for name in CONDITIONAL_RESULT_COLUMNS}
    rec["lo_phase"] = LO_PHASE_OPTIMAL if lo_phase is None else float(lo_phase)
    rec[CONDITIONAL_REGIME_COLUMN] = str(
        _regime_names(values["E_c_plus_given_minus"][:1], values["E_c_minus_given_plus"][:1])[0]
    )
    for key in ("plus_given_minus", "minus_given_plus"):
        rec[f"steering_c_{key}"] = bool(rec[f"E_c_{key}"] < STEERING_BOUND)
    return rec


def lab_frame_record(thermal, design, result: SteeringResult, omega: float) -> tuple[SteeringResult, dict]:
    """One checked design at oscillator frequency ``omega`` [Hz]: the steering result with the
    lab-frame (rotation-invariant) E and the carrier-frame moments, and a record of the lab-frame
    values (fixed-pairing E, instants, the paper's E from ``result``, the lab-frame E+|- and the
    ratio Gamma/Omega)."""
    lab, S = lab_frame_single(thermal, design, omega)
    ratio = _as_float(rotating_wave_ratio(thermal, design, omega))
    record = {
        "omega_hz": omega,
        "E_plus_given_minus_reid_fixed": _as_float(lab.E_plus_given_minus_reid_fixed),
        "E_minus_given_plus_reid_fixed": _as_float(lab.E_minus_given_plus_reid_fixed),
        "instant_plus_given_minus": _as_float(lab.psi_plus_given_minus),
        "instant_minus_given_plus": _as_float(lab.psi_minus_given_plus),
        "E_plus_given_minus_paper": _as_float(result.E_plus_given_minus),
        "E_minus_given_plus_paper": _as_float(result.E_minus_given_plus),
        "gamma_over_omega": ratio,
    }
    result = dataclasses.replace(
        result,
        E_plus_given_minus=lab.E_plus_given_minus,
        E_minus_given_plus=lab.E_minus_given_plus,
        var_plus=S[2, 2],
        var_minus=S[0, 0],
        cov=S[2, 0],
    )
    return result, record
