"""``steerjax evaluate`` for one design given by flags: the flags checked, the library's record
(:func:`steerjax.analysis.evaluate_design`) printed as JSON or as its text report."""

from __future__ import annotations

import argparse
import json

import steerjax as sj

from ..analysis._design_batch import DESIGN_FIELDS
from ..analysis._single_design import design_report, evaluate_design
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


def run_single(args: argparse.Namespace) -> int:
    if args.out is not None:
        raise UsageError(
            "--out is for --from FILE; for one design, redirect stdout (e.g. --json > result.json)"
        )
    conditional, lo_phase, efficiency = conditional_settings(args)
    design = _design_from_args(args)
    thermal = thermal_from_args(args)
    phi = float(design.phi)
    if conditional and phi != 0 and lo_phase is None:
        raise UsageError(
            f"--phi {phi!r} with --lo-phase optimal: the optimal local-oscillator phase is searched at "
            "phi = 0 only; give a fixed --lo-phase"
        )
    try:
        record = evaluate_design(
            thermal,
            design,
            conditional=conditional,
            lo_phase=lo_phase,
            efficiency=efficiency,
            margins=args.margins,
            omega_hz=args.omega_hz,
            preset=args.thermal,
            show_phi=args.phi is not None,
            note=lambda message: note("steerjax evaluate", message, quiet=args.quiet),
        )
    except NotImplementedError:
        raise UsageError(
            "--omega-hz (the lab-frame model) is not supported with --conditional or --margins"
        ) from None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        print_stdout(json.dumps(record, indent=2))
    else:
        print_stdout(design_report(record, thermal_source=describe_thermal_source(args)))
    return 0
