"""``steerjax evaluate`` for one design given by flags: the computation and the printed report."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import numpy as np

import steerjax as sj

from ..analysis._design_batch import (
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
from ..analysis._design_record import conditional_record, lab_frame_record, result_record
from ..io._tables import THERMAL_FIELDS
from ..io._text import LO_PHASE_OPTIMAL, format_number
from ._evaluate_batch import DESIGN_FLAGS, conditional_settings
from ._messages import InputError, UsageError, note, print_stdout
from ._thermal import describe_thermal_source, thermal_from_args

# ---------------------------------------------------------------------------------------------
# One design
# ---------------------------------------------------------------------------------------------


def _design_from_args(args: argparse.Namespace) -> sj.Design:
    missing = [DESIGN_FLAGS[n] for n in DESIGN_FIELDS[:4] if getattr(args, n) is None]
    if missing:
        raise UsageError(
            f"one design needs {', '.join(missing)} (or evaluate a file of designs with --from FILE)"
        )
    return sj.Design(
        theta_plus=args.theta_plus,
        theta_minus=args.theta_minus,
        C_plus=args.C_plus,
        C_minus=args.C_minus,
        eps=0.0 if args.eps is None else args.eps,
        phi=0.0 if args.phi is None else args.phi,
    )


def _as_float(x) -> float:
    return float(np.asarray(x))


def _fmt_angle(theta: float) -> str:
    return f"{f'{theta!r} rad ({_num(theta / math.pi, 10, (0.0, 0.25, 0.5))} pi)':<42}"


def _num(x: float, digits: int = 10, bounds=(0.0,)) -> str:
    """A value for the text report (:func:`steerjax.io.format_number`: no ``-0``,
    and never shown equal to a limit of its range, by default 0, that it differs from)."""
    return format_number(x, digits, bounds)


def format_single(
    args,
    thermal: sj.Thermal,
    design: sj.Design,
    result: sj.SteeringResult,
    conditional: dict | None = None,
    sensitivity: dict | None = None,
    lab: dict | None = None,
) -> str:
    """The human-readable report of one design (``conditional``: the record of
    :func:`_conditional_record`, with ``--conditional``; ``sensitivity``: the columns
    :data:`SENSITIVITY_RESULT_COLUMNS` as floats, with ``--margins``).  With ``--phi`` the
    design shows phi and the steering block names the Gaussian engine when phi != 0."""
    d = {n: _as_float(getattr(design, n)) for n in DESIGN_FIELDS}
    t = {n: _as_float(getattr(thermal, n)) for n in THERMAL_FIELDS}
    r = result_record(result)

    def verdict(e: float) -> str:
        return "steering" if e < sj.STEERING_BOUND else "no steering"

    def _e(e: float) -> str:  # never shown equal to the bound 1/2 when it is not
        return _num(e, 12, (0.0, sj.STEERING_BOUND))

    lines = [
        "design (client -, first in the cascade; server +)",
        f"  theta_+ = {_fmt_angle(d['theta_plus'])}  C_+ = {_num(d['C_plus'])}",
        f"  theta_- = {_fmt_angle(d['theta_minus'])}  C_- = {_num(d['C_minus'])}",
        f"  eps     = {_num(d['eps'], 10, (0.0, 1.0))}",
    ]
    phi = None if args.phi is None else _as_float(design.phi)
    if phi is not None:
        lines.append(f"  phi     = {phi!r} rad ({_num(phi / math.pi)} pi)")
    engine = "" if not phi else f"; Gaussian engine at phi = {phi!r} rad"
    if lab is not None:
        engine = f"; lab frame at Omega/2pi = {lab['omega_hz']!r} Hz, rotation-invariant E"
    lines += [
        f"thermal ({describe_thermal_source(args)})",
        f"  gamma_+,0/2pi = {_num(t['gamma0_plus_hz'])} Hz    nbar_+ = {_num(t['nbar_plus'])}",
        f"  gamma_-,0/2pi = {_num(t['gamma0_minus_hz'])} Hz    nbar_- = {_num(t['nbar_minus'])}",
        f"steering (Reid: steering when E < 1/2{engine})",
        f"  E_+|- (client => server) = {_e(r['E_plus_given_minus']):<18} {verdict(r['E_plus_given_minus'])}",
        f"  E_-|+ (server => client) = {_e(r['E_minus_given_plus']):<18} {verdict(r['E_minus_given_plus'])}",
        f"  regime: {r['regime']}",
        "rates and moments",
        f"  gamma_+/2pi = {_num(r['gamma_plus_hz'])} Hz    gamma_-/2pi = {_num(r['gamma_minus_hz'])} Hz",
        f"  f = 2R/gamma_+ = {_num(r['f'])}",
        f"  (Delta X_+)^2 = {_num(r['var_plus'], 10, (0.5,))}"
        f"    (Delta X_-)^2 = {_num(r['var_minus'], 10, (0.5,))}"
        f"    <X_+,X_-> = {_num(r['cov'])}",
    ]
    if lab is not None:
        lines += [
            "beyond the rotating-wave approximation (moments above: carrier frame)",
            f"  Gamma/Omega = {_num(lab['gamma_over_omega'])}",
            f"  paper's model: E_+|- = {_e(lab['E_plus_given_minus_paper'])}"
            f"    E_-|+ = {_e(lab['E_minus_given_plus_paper'])}",
            "  Reid's E, fixed X/P pairing, at its best instant (Omega t, rad):",
            f"    E_+|- = {_e(lab['E_plus_given_minus_reid_fixed'])}"
            f" at {_num(lab['instant_plus_given_minus'])}",
            f"    E_-|+ = {_e(lab['E_minus_given_plus_reid_fixed'])}"
            f" at {_num(lab['instant_minus_given_plus'])}",
        ]
    if conditional is not None:
        c = conditional
        how = "optimised for each direction" if c["lo_phase"] == LO_PHASE_OPTIMAL else "given"
        lines += [
            "conditional steering (homodyne detection of the output light; Sec. VI)",
            f"  efficiency eta = {_num(c['efficiency'], 10, (0.0, 1.0))}    lo_phase: {how}",
        ]
        for key, label in (
            ("plus_given_minus", "E_c,+|- (client => server)"),
            ("minus_given_plus", "E_c,-|+ (server => client)"),
        ):
            e, psi = c[f"E_c_{key}"], c[f"lo_phase_{key}"]
            lines.append(
                f"  {label} = {_e(e):<18} {verdict(e):<12} "
                f"at lo_phase = {psi!r} rad ({_num(psi / math.pi)} pi)"
            )
        lines.append(f"  regime (conditional): {c[CONDITIONAL_REGIME_COLUMN]}")
    if sensitivity is not None:
        lines += format_sensitivity(sensitivity)
    return "\n".join(lines)


def _short(x: float) -> str:
    return "inf" if x == math.inf else format_number(x, 6)


def format_sensitivity(values: dict) -> list[str]:
    """The ``--margins`` block of the text report: one line per parameter with its unit,
    dE/dx of both directions and the two steering margins (``values``: the columns
    :data:`SENSITIVITY_RESULT_COLUMNS` as floats)."""
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


def run_single(args: argparse.Namespace) -> int:
    if args.out is not None:
        raise UsageError(
            "--out is for --from FILE; for one design, redirect stdout (e.g. --json > result.json)"
        )
    conditional, lo_phase, efficiency = conditional_settings(args)
    design = _design_from_args(args)
    thermal = thermal_from_args(args)
    phi = _as_float(design.phi)
    if conditional and phi != 0 and lo_phase is None:
        raise UsageError(
            f"--phi {phi!r} with --lo-phase optimal: the optimal local-oscillator phase is searched at "
            "phi = 0 only; give a fixed --lo-phase"
        )
    try:
        # phi = 0: the closed forms; phi != 0: the Gaussian engine (E of steering_at_phase)
        result = (
            sj.steering(thermal, design) if phi == 0 else sj.model.steering_result_at_phase(thermal, design)
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    omega = getattr(args, "omega_hz", None)
    lab = None
    if omega is not None:
        result, lab = _lab_frame_result(args, thermal, design, result, float(omega))
    fields = [f.name for f in dataclasses.fields(result)]
    values = {name: _as_float(getattr(result, name)) for name in fields}
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
    if args.margins and all(math.isfinite(v) for v in values.values()):
        params = {n: np.asarray([_as_float(getattr(design, n))]) for n in (*DESIGN_FIELDS, PHI_COLUMN)}
        params |= {n: np.asarray([_as_float(getattr(thermal, n))]) for n in THERMAL_FIELDS}
        columns = evaluate_sensitivity(params, np.asarray([0]))
        sensitivity = {name: float(columns[name][0]) for name in SENSITIVITY_RESULT_COLUMNS}
        values |= {n: sensitivity[n] for n in GRADIENT_COLUMNS}
        values |= {n: sensitivity[n] for n in MARGIN_COLUMNS if math.isnan(sensitivity[n])}
    if not all(math.isfinite(v) for v in values.values()):
        raise InputError(
            "no finite result ("
            + ", ".join(f"{k} = {v!r}" for k, v in values.items() if not math.isfinite(v))
            + "): the design is at the stability edge to within rounding, or beyond the float64 range"
        )
    if args.json:
        record = {
            "design": {
                n: _as_float(getattr(design, n))
                for n in (*DESIGN_FIELDS, *((PHI_COLUMN,) if args.phi is not None else ()))
            },
            "thermal": {
                "preset": args.thermal,
                **{n: _as_float(getattr(thermal, n)) for n in THERMAL_FIELDS},
            },
            "result": result_record(result),
            "steering_bound": sj.STEERING_BOUND,
            "steerjax_version": sj.__version__,
        }
        if lab is not None:
            record["lab_frame"] = lab
        if cond is not None:
            record["conditional"] = {"lo_phase": cond["lo_phase"], "efficiency": efficiency}
            record["result"] |= {k: v for k, v in cond.items() if k != "lo_phase"}
        if sensitivity is not None:  # JSON has no inf: a margin without limit is null
            record["sensitivity"] = {k: (None if v == math.inf else v) for k, v in sensitivity.items()}
            record["sensitivity_units"] = dict(SENSITIVITY_UNITS)
        print_stdout(json.dumps(record, indent=2))
    else:
        print_stdout(format_single(args, thermal, design, result, cond, sensitivity, lab))
    return 0


def _lab_frame_result(args, thermal, design, result, omega: float):
    """The steering result with the lab-frame E and carrier-frame moments at ``omega`` [Hz],
    and a record of the lab-frame values (fixed-pairing E, instants, the paper's E, the ratio
    Gamma/Omega); a note on stderr where Gamma_j/Omega > 0.1."""
    if getattr(args, "conditional", False) or getattr(args, "margins", False):
        raise UsageError("--omega-hz (the lab-frame model) is not supported with --conditional or --margins")
    try:  # the design was checked by the paper's model; the frequency here
        sj.model.rotating_wave_ratio(thermal, design, omega)
        if not (math.isfinite(omega) and omega > 0):
            raise ValueError(f"omega_hz = {omega!r} is outside the allowed range (0, inf) [Hz]")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    result_lab, record = lab_frame_record(thermal, design, result, omega)
    ratio = record["gamma_over_omega"]
    if ratio > sj.model.RWA_RATIO_LIMIT and not getattr(args, "quiet", False):
        e_lab = _as_float(result_lab.E_plus_given_minus)
        err = record["E_plus_given_minus_paper"] / e_lab - 1.0
        note(
            "steerjax evaluate",
            f"Gamma/Omega = {ratio:.3g} > {sj.model.RWA_RATIO_LIMIT}: the paper's rotating-wave model "
            f"is off by {100 * err:+.3g} % in E_+|- for this design (E_+|- = "
            f"{record['E_plus_given_minus_paper']:.6g} there, {e_lab:.6g} in "
            "the lab frame, shown below)",
        )
    return result_lab, record
