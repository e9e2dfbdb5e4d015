"""One design, evaluated in full and reported: :func:`evaluate_design` gives the JSON-ready record
that ``steerjax evaluate --json`` prints (steady-state steering, and on request the conditional
E_c, the gradients and steering margins, or the lab-frame model), and :func:`design_report` the
text report that ``steerjax evaluate`` prints from such a record."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from .._version import __version__
from ..io._tables import THERMAL_FIELDS
from ..io._text import LO_PHASE_OPTIMAL, format_number
from ..model import RWA_RATIO_LIMIT, STEERING_BOUND, rotating_wave_ratio, steering, steering_result_at_phase
from ..model._params import Design, Thermal
from ._design_batch import (
    CONDITIONAL_REGIME_COLUMN,
    CONDITIONAL_RESULT_COLUMNS,
    DESIGN_FIELDS,
    GRADIENT_COLUMNS,
    MARGIN_COLUMNS,
    PHI_COLUMN,
    SENSITIVITY_PARAMETERS,
    SENSITIVITY_RESULT_COLUMNS,
    SENSITIVITY_UNITS,
    evaluate_conditional,
    evaluate_sensitivity,
)
from ._design_record import conditional_record, lab_frame_record, result_record

__all__ = ["evaluate_design", "design_report"]


def _as_float(x) -> float:
    return float(np.asarray(x))


# ---------------------------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------------------------


def evaluate_design(
    thermal: Thermal,
    design: Design,
    *,
    conditional: bool = False,
    lo_phase: float | None = None,
    efficiency: float = 1.0,
    margins: bool = False,
    omega_hz: float | None = None,
    preset: str | None = None,
    show_phi: bool | None = None,
    note: Callable[[str], None] | None = None,
) -> dict:
    """Everything ``steerjax evaluate`` computes for one design, as a JSON-ready record.

    phi = 0 is evaluated in closed form (:func:`steerjax.steering`), phi != 0 with the Gaussian
    engine (:func:`steerjax.model.steering_result_at_phase`), and with ``omega_hz`` [Hz] in the
    lab-frame model (the record gains ``lab_frame``).  ``conditional``: the conditional E_c at the
    local-oscillator phase ``lo_phase`` [rad] (None: optimised for each direction, phi = 0 only)
    and detection efficiency ``efficiency`` (the record gains ``conditional`` and the E_c
    results).  ``margins``: the gradients and steering margins of
    :func:`steerjax.design_sensitivity` (``sensitivity``, a margin without limit as None).

    Args:
        preset: the name stored as the thermal preset of the record (None: none).
        show_phi: whether the record's design lists phi (default: when phi != 0).
        note: called with a note on the accuracy of the rotating-wave model when the lab-frame
            model differs noticeably (Gamma/Omega > :data:`steerjax.model.RWA_RATIO_LIMIT`).

    Raises:
        ValueError: a value outside its range, an unstable design, an unusable ``omega_hz``, or
            no finite result.
        NotImplementedError: ``omega_hz`` together with ``conditional`` or ``margins``.

    Examples:
        >>> import math
        >>> import steerjax as sj
        >>> design = sj.Design(theta_plus=0.35 * math.pi, theta_minus=0.35 * math.pi, C_plus=50, C_minus=50)
        >>> record = sj.analysis.evaluate_design(sj.model.thermal_preset("hot"), design, preset="hot")
        >>> sorted(record)
        ['design', 'result', 'steering_bound', 'steerjax_version', 'thermal']
        >>> print(sj.analysis.design_report(record).splitlines()[4])
        thermal (preset hot)
    """
    phi = _as_float(design.phi)
    result = steering(thermal, design) if phi == 0 else steering_result_at_phase(thermal, design)
    lab = None
    if omega_hz is not None:
        result, lab = _lab_frame(thermal, design, result, float(omega_hz), conditional or margins, note)
    values = {f.name: _as_float(getattr(result, f.name)) for f in dataclasses.fields(result)}
    cond = None
    if conditional and all(math.isfinite(v) for v in values.values()):
        params = {n: np.asarray([_as_float(getattr(design, n))]) for n in DESIGN_FIELDS}
        params |= {n: np.asarray([_as_float(getattr(thermal, n))]) for n in THERMAL_FIELDS}
        if phi != 0:
            params[PHI_COLUMN] = np.asarray([phi])
        params["lo_phase"] = np.asarray([math.nan if lo_phase is None else lo_phase])
        params["efficiency"] = np.asarray([efficiency])
        cond = conditional_record(lo_phase, evaluate_conditional(params, np.asarray([0])))
        values |= {n: cond[n] for n in CONDITIONAL_RESULT_COLUMNS}
    sensitivity = None
    if margins and all(math.isfinite(v) for v in values.values()):
        params = {n: np.asarray([_as_float(getattr(design, n))]) for n in (*DESIGN_FIELDS, PHI_COLUMN)}
        params |= {n: np.asarray([_as_float(getattr(thermal, n))]) for n in THERMAL_FIELDS}
        columns = evaluate_sensitivity(params, np.asarray([0]))
        sensitivity = {name: float(columns[name][0]) for name in SENSITIVITY_RESULT_COLUMNS}
        values |= {n: sensitivity[n] for n in GRADIENT_COLUMNS}
        values |= {n: sensitivity[n] for n in MARGIN_COLUMNS if math.isnan(sensitivity[n])}
    if not all(math.isfinite(v) for v in values.values()):
        raise ValueError(
            "no finite result ("
            + ", ".join(f"{k} = {v!r}" for k, v in values.items() if not math.isfinite(v))
            + "): the design is at the stability edge to within rounding, or beyond the float64 range"
        )
    shown = (PHI_COLUMN,) if (phi != 0 if show_phi is None else show_phi) else ()
    record = {
        "design": {n: _as_float(getattr(design, n)) for n in (*DESIGN_FIELDS, *shown)},
        "thermal": {"preset": preset, **{n: _as_float(getattr(thermal, n)) for n in THERMAL_FIELDS}},
        "result": result_record(result),
        "steering_bound": STEERING_BOUND,
        "steerjax_version": __version__,
    }
    if lab is not None:
        record["lab_frame"] = lab
    if cond is not None:
        record["conditional"] = {"lo_phase": cond["lo_phase"], "efficiency": efficiency}
        record["result"] |= {k: v for k, v in cond.items() if k != "lo_phase"}
    if sensitivity is not None:  # JSON has no inf: a margin without limit is null
        record["sensitivity"] = {k: (None if v == math.inf else v) for k, v in sensitivity.items()}
        record["sensitivity_units"] = dict(SENSITIVITY_UNITS)
    return record


def _lab_frame(thermal, design, result, omega: float, unsupported: bool, note):
    """The steering result with the lab-frame E and carrier-frame moments at ``omega`` [Hz],
    and the record of the lab-frame values; ``note`` where Gamma_j/Omega > the limit."""
    if unsupported:
        raise NotImplementedError("the lab-frame model is not supported with conditional or margins")
    # the design was checked by the paper's model; the frequency here
    rotating_wave_ratio(thermal, design, omega)
    if not (math.isfinite(omega) and omega > 0):
        raise ValueError(f"omega_hz = {omega!r} is outside the allowed range (0, inf) [Hz]")
    result_lab, record = lab_frame_record(thermal, design, result, omega)
    ratio = record["gamma_over_omega"]
    if ratio > RWA_RATIO_LIMIT and note is not None:
        e_lab = _as_float(result_lab.E_plus_given_minus)
        err = record["E_plus_given_minus_paper"] / e_lab - 1.0
        note(
            f"Gamma/Omega = {ratio:.3g} > {RWA_RATIO_LIMIT}: the paper's rotating-wave model "
            f"is off by {100 * err:+.3g} % in E_+|- for this design (E_+|- = "
            f"{record['E_plus_given_minus_paper']:.6g} there, {e_lab:.6g} in "
            "the lab frame, shown below)"
        )
    return result_lab, record


# ---------------------------------------------------------------------------------------------
# The text report
# ---------------------------------------------------------------------------------------------


def _num(x: float, digits: int = 10, bounds=(0.0,)) -> str:
    """A value for the text report (:func:`steerjax.io.format_number`: no ``-0``,
    and never shown equal to a limit of its range, by default 0, that it differs from)."""
    return format_number(x, digits, bounds)


def _fmt_angle(theta: float) -> str:
    return f"{f'{theta!r} rad ({_num(theta / math.pi, 10, (0.0, 0.25, 0.5))} pi)':<42}"


def _verdict(e: float) -> str:
    return "steering" if e < STEERING_BOUND else "no steering"


def _e(e: float) -> str:  # never shown equal to the bound 1/2 when it is not
    return _num(e, 12, (0.0, STEERING_BOUND))


def design_report(record: dict, *, thermal_source: str | None = None) -> str:
    """The text report of one design that ``steerjax evaluate`` prints, from the record of
    :func:`evaluate_design` (or the JSON object of ``steerjax evaluate --json``).

    The design shows phi when the record lists it, and the steering block names the Gaussian
    engine when phi != 0 or the lab frame with ``lab_frame``; blocks for ``conditional`` and
    ``sensitivity`` follow when the record has them.  ``thermal_source``: where the thermal
    values came from, in words (default: the record's preset, else "explicit values").
    """
    d, t, r = record["design"], record["thermal"], record["result"]
    lab = record.get("lab_frame")
    if thermal_source is None:
        thermal_source = f"preset {t['preset']}" if t.get("preset") else "explicit values"
    lines = [
        "design (client -, first in the cascade; server +)",
        f"  theta_+ = {_fmt_angle(d['theta_plus'])}  C_+ = {_num(d['C_plus'])}",
        f"  theta_- = {_fmt_angle(d['theta_minus'])}  C_- = {_num(d['C_minus'])}",
        f"  eps     = {_num(d['eps'], 10, (0.0, 1.0))}",
    ]
    phi = d.get(PHI_COLUMN)
    if phi is not None:
        lines.append(f"  phi     = {phi!r} rad ({_num(phi / math.pi)} pi)")
    engine = "" if not phi else f"; Gaussian engine at phi = {phi!r} rad"
    if lab is not None:
        engine = f"; lab frame at Omega/2pi = {lab['omega_hz']!r} Hz, rotation-invariant E"
    lines += [
        f"thermal ({thermal_source})",
        f"  gamma_+,0/2pi = {_num(t['gamma0_plus_hz'])} Hz    nbar_+ = {_num(t['nbar_plus'])}",
        f"  gamma_-,0/2pi = {_num(t['gamma0_minus_hz'])} Hz    nbar_- = {_num(t['nbar_minus'])}",
        f"steering (Reid: steering when E < 1/2{engine})",
        f"  E_+|- (client => server) = {_e(r['E_plus_given_minus']):<18} {_verdict(r['E_plus_given_minus'])}",
        f"  E_-|+ (server => client) = {_e(r['E_minus_given_plus']):<18} {_verdict(r['E_minus_given_plus'])}",
        f"  regime: {r['regime']}",
        "rates and moments",
        f"  gamma_+/2pi = {_num(r['gamma_plus_hz'])} Hz    gamma_-/2pi = {_num(r['gamma_minus_hz'])} Hz",
        f"  f = 2R/gamma_+ = {_num(r['f'])}",
        f"  (Delta X_+)^2 = {_num(r['var_plus'], 10, (0.5,))}"
        f"    (Delta X_-)^2 = {_num(r['var_minus'], 10, (0.5,))}"
        f"    <X_+,X_-> = {_num(r['cov'])}",
    ]
    if lab is not None:
        lines += _lab_frame_lines(lab)
    if "conditional" in record:
        lines += _conditional_lines(record["conditional"]["lo_phase"], r)
    if "sensitivity" in record:
        values = {k: (math.inf if v is None else v) for k, v in record["sensitivity"].items()}
        lines += _sensitivity_lines(values)
    return "\n".join(lines)


def _lab_frame_lines(lab: dict) -> list[str]:
    return [
        "beyond the rotating-wave approximation (moments above: carrier frame)",
        f"  Gamma/Omega = {_num(lab['gamma_over_omega'])}",
        f"  paper's model: E_+|- = {_e(lab['E_plus_given_minus_paper'])}"
        f"    E_-|+ = {_e(lab['E_minus_given_plus_paper'])}",
        "  Reid's E, fixed X/P pairing, at its best instant (Omega t, rad):",
        f"    E_+|- = {_e(lab['E_plus_given_minus_reid_fixed'])} at {_num(lab['instant_plus_given_minus'])}",
        f"    E_-|+ = {_e(lab['E_minus_given_plus_reid_fixed'])} at {_num(lab['instant_minus_given_plus'])}",
    ]


def _conditional_lines(lo_phase, c: dict) -> list[str]:
    how = "optimised for each direction" if lo_phase == LO_PHASE_OPTIMAL else "given"
    lines = [
        "conditional steering (homodyne detection of the output light; Sec. VI)",
        f"  efficiency eta = {_num(c['efficiency'], 10, (0.0, 1.0))}    lo_phase: {how}",
    ]
    for key, label in (
        ("plus_given_minus", "E_c,+|- (client => server)"),
        ("minus_given_plus", "E_c,-|+ (server => client)"),
    ):
        e, psi = c[f"E_c_{key}"], c[f"lo_phase_{key}"]
        lines.append(
            f"  {label} = {_e(e):<18} {_verdict(e):<12} at lo_phase = {psi!r} rad ({_num(psi / math.pi)} pi)"
        )
    lines.append(f"  regime (conditional): {c[CONDITIONAL_REGIME_COLUMN]}")
    return lines


def _short(x: float) -> str:
    return "inf" if x == math.inf else format_number(x, 6)


def _sensitivity_lines(values: dict) -> list[str]:
    """The ``--margins`` block: one line per parameter with its unit, dE/dx of both directions
    and the two steering margins (``values``: the columns :data:`SENSITIVITY_RESULT_COLUMNS`)."""
    lines = [
        "sensitivities and steering margins (margin: the largest error in x alone, of either sign,",
        "that keeps E < 1/2; inf: none in the scanned range; 0: E >= 1/2 at the design)",
        f"  {'x':<16}{'unit':<6}{'dE_+|-/dx':>14}{'dE_-|+/dx':>14}{'margin E_+|-':>14}{'margin E_-|+':>14}",
    ]
    for name in SENSITIVITY_PARAMETERS:
        cells = (
            values[f"dE_plus_given_minus_d{name}"],
            values[f"dE_minus_given_plus_d{name}"],
            values[f"margin_{name}"],
            values[f"margin_minus_given_plus_{name}"],
        )
        unit = SENSITIVITY_UNITS[name]
        lines.append(f"  {name:<16}{unit:<6}" + "".join(f"{_short(v):>14}" for v in cells))
    lines.append("  (dE/dx in 1/unit of x; margins in the unit of x)")
    return lines
