"""``steerjax evaluate``: steady-state steering of one design (flags) or many (a CSV file).

One design is evaluated by :func:`steerjax.analysis.evaluate_design` (:func:`steerjax.steering`,
or the Gaussian engine at phi != 0, the lab-frame model with ``--omega-hz``), so the numbers and
the error messages are the library's, and printed as its JSON record or its text report.  Many
designs (``--from FILE``): the file is read by :func:`steerjax.io.read_table`
(:mod:`._evaluate_batch`: columns, flags that fill columns, notes), checked and evaluated row by
row by :func:`steerjax.analysis._design_table.evaluate_table` (padded chunks of one compiled
program per kind of row), and written atomically; each bad row is
reported as ``FILE:LINE: reason`` (exit status 1).  The epilog below is the user's reference
(also on docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import sys

import steerjax as sj

from .._io import csv_text, write_csv
from ..analysis._design_batch import (
    CONDITIONAL_INPUT_COLUMNS,
    CONDITIONAL_REGIME_COLUMN,
    CONDITIONAL_RESULT_COLUMNS,
    DESIGN_FIELDS,
    INPUT_COLUMNS,
    LAB_RESULT_COLUMNS,
    LO_PHASE_GRID,
    LO_PHASE_POLISH_STEPS,
    OMEGA_COLUMN,
    PHI_COLUMN,
    RESULT_COLUMNS,
    SENSITIVITY_CHUNK_ROWS,
    SENSITIVITY_PARAMETERS,
)
from ..analysis._design_table import evaluate_table, has_omega, result_columns
from ..analysis._single_design import design_report, evaluate_design
from ..io._console import ProgressBar
from ..io._tables import read_table, resolve_thermal
from ..io._text import ANGLE_FORMS, MISSING_RULE
from ._evaluate_batch import (
    DESIGN_FLAGS,
    _columns_spec,
    _note_inputs,
    check_conditional_columns,
    conditional_settings,
)
from ._messages import (
    InputError,
    UsageError,
    check_conflicts,
    check_out_file,
    command,
    note,
    print_stdout,
    wrap,
    write_out_file,
)
from ._numbers import _UNSET, angle_argument, lo_phase_argument, number_argument
from ._thermal import (
    add_thermal_arguments,
    describe_thermal_source,
    thermal_from_args,
    thermal_values_from_args,
)

_EPILOG = f"""\
examples:
  steerjax evaluate --thermal hot --theta-plus 0.4pi --theta-minus 0.35pi --c-plus 100 --c-minus 50
  steerjax evaluate --thermal vacuum-server --theta-plus 0.4pi --theta-minus 0.35pi \\
      --c-plus 100 --c-minus 50 --eps 0.1 --json
  steerjax evaluate --from designs.csv --out results.csv --thermal hot
  steerjax evaluate --thermal hot --theta-plus 0.4149pi --theta-minus 0.25pi \\
      --c-plus 17.67 --c-minus 10 --conditional --efficiency 0.9
  steerjax evaluate --from designs.csv --out results.csv --thermal hot --conditional
  steerjax evaluate --thermal hot --theta-plus 0.4149pi --theta-minus 0.25pi \\
      --c-plus 17.67 --c-minus 10 --phi 1e-3
  steerjax evaluate --thermal hot --theta-plus 0.4pi --theta-minus 0.35pi \\
      --c-plus 100 --c-minus 50 --margins

batch input (--from FILE): a CSV file with a header row and the columns
  theta_plus, theta_minus   [rad]  numbers, or multiples of pi such as 0.35pi
  C_plus, C_minus           [1]    quantum cooperativities
  eps                       [1]    transmission loss; 0 when the column is absent
  phi                       [rad]  optional: inter-subsystem phase, any finite angle; 0 when
                                   absent (or --phi gives it for every row)
  omega_hz                  [Hz]   optional: oscillator frequency Omega/2pi; empty: the
                                   paper's model (or --omega-hz gives it for every row)
  gamma0_plus_hz, nbar_plus, gamma0_minus_hz, nbar_minus
                            [Hz], [quanta]
  thermal                   optional: a preset name per row (hot, vacuum-server)
  Each thermal value comes from the first of: its own column (if the cell is not empty), its
  explicit flag (e.g. --nbar-plus), the row's thermal preset, --thermal.  A design flag (e.g.
  --c-plus 50) gives a constant column the file lacks; a flag may not repeat a column of the
  file.  Other columns (ids, labels) are copied to the output unchanged.  Blank lines and
  lines starting with # are skipped.

batch output (--out FILE, or stdout): the input columns (angles in radians, full float64
  precision), then {", ".join(RESULT_COLUMNS[:3])},
  {", ".join(RESULT_COLUMNS[3:])} (a name: {", ".join(sj.model.REGIMES)});
  only the rows that could be evaluated.  A regular file is replaced whole or not at all (the
  old one stays after an error or Ctrl-C); a symbolic link is written through, a device or
  FIFO directly.  The file's folder must exist.
  Each bad row is reported on stderr as FILE:LINE: reason.

inter-subsystem phase (--phi RAD or a phi column): rows with phi = 0 are evaluated in closed
  form (Eqs. 4-10, steerjax.steering), rows with phi != 0 with the Gaussian engine (E from the
  steady-state covariance at that phi: steerjax.steering_at_phase; same columns; f and the
  rates do not depend on phi).  The output has a phi column [rad] only when phi was given.
  With --conditional a row with phi != 0 needs a fixed lo_phase (the 'optimal' search is at
  phi = 0 only): otherwise that row is reported as bad.

oscillator frequency (--omega-hz HZ or an omega_hz column; beyond the rotating-wave
  approximation): rows with a frequency are evaluated in the lab-frame model
  (steerjax.lab_frame_steering; one broadband light channel, the client at -Omega, the server at
  +Omega).  Their E_plus_given_minus, E_minus_given_plus are sqrt(det) of the conditional
  covariance (Reid's E with optimal quadratures; the same at every instant), and the columns
  {", ".join(LAB_RESULT_COLUMNS)} (Reid's E with the paper's fixed X/P
  pairing at its best instant; empty for rows without a frequency) are added.  A note says how
  far the paper's model is off where Gamma_j/Omega > 0.1.  Not with --conditional or --margins.

margins (--margins; steerjax.design_sensitivity): for every parameter x of
  {", ".join(SENSITIVITY_PARAMETERS[:6])},
  {", ".join(SENSITIVITY_PARAMETERS[6:])}
  (units: rad for angles and phi, Hz for gamma0, 1 otherwise) the columns
  dE_plus_given_minus_d<x>, dE_minus_given_plus_d<x> [1/unit of x] (the derivatives at the
  design), margin_<x> [unit of x] (the largest error in x alone, of either sign, that keeps
  E_+|- < 1/2; inf: none in the scanned range, 0: E_+|- >= 1/2 already) and
  margin_minus_given_plus_<x> (the same for E_-|+) are added last.  About 4,800 evaluations
  of E per design, in chunks of {SENSITIVITY_CHUNK_ROWS} designs.

conditional scheme (--conditional; Sec. VI, Appendix B): the output light is measured by
  homodyne detection (efficiency --efficiency [dimensionless] in [0, 1], default 1) at the
  local-oscillator phase --lo-phase [rad] (or 'optimal', the default), and the conditional
  E_c is evaluated too.  Batch columns (only with --conditional): lo_phase [rad] or 'optimal'
  (empty: optimal), efficiency (empty: 1).  Added output columns, after the ones above:
  {", ".join(CONDITIONAL_RESULT_COLUMNS[:2])} [rad] (the phase used for each
  direction: the given one, or for 'optimal' the phase in [0, pi) that minimises that
  direction's E_c, optimised separately per direction: a grid of {LO_PHASE_GRID} phases, then
  {LO_PHASE_POLISH_STEPS} golden-section steps), {", ".join(CONDITIONAL_RESULT_COLUMNS[2:])},
  {CONDITIONAL_REGIME_COLUMN} (the regime of the two E_c).

numbers: {wrap(MISSING_RULE, 86).replace(chr(10), chr(10) + "  ")}.

exit status: 0 success; 1 a bad value, an unstable design, or any bad row; 2 usage error;
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): no output file written."""


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``evaluate`` command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="steady-state steering E_+|-, E_-|+ of one design or of a CSV of designs",
        description=wrap(
            "Evaluate the steady-state Reid steering parameters E_+|- (client => server) and "
            "E_-|+ (server => client) of the cascade in closed form (Eqs. 4-10 of the paper; "
            "steering when E < 1/2).  The client (-) is first in the cascade, the server (+) "
            "second.  Rates are gamma/2pi in Hz; angles in radians."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    design = parser.add_argument_group(
        "design (one design; with --from, a flag fills a column the file lacks)",
        wrap(f"Angles: {ANGLE_FORMS}."),
    )
    design.add_argument(
        "--theta-plus",
        dest="theta_plus",
        metavar="RAD",
        type=angle_argument,
        help="interaction angle of the server, theta_+ [rad], in [0, pi/2] (pi/4: QND)",
    )
    design.add_argument(
        "--theta-minus",
        dest="theta_minus",
        metavar="RAD",
        type=angle_argument,
        help="interaction angle of the client, theta_- [rad], in [0, pi/2]",
    )
    design.add_argument(
        "--c-plus",
        dest="C_plus",
        metavar="C",
        type=number_argument,
        help="quantum cooperativity of the server, C_+ = Gamma_+ / (gamma_+,0 (nbar_+ + 1/2)) "
        "[dimensionless], > 0",
    )
    design.add_argument(
        "--c-minus",
        dest="C_minus",
        metavar="C",
        type=number_argument,
        help="quantum cooperativity of the client, C_- [dimensionless], > 0",
    )
    design.add_argument(
        "--eps",
        dest="eps",
        metavar="EPS",
        type=number_argument,
        help="power transmission loss between the subsystems [dimensionless], in [0, 1); default 0",
    )
    design.add_argument(
        "--phi",
        dest="phi",
        metavar="RAD",
        type=angle_argument,
        help="inter-subsystem phase phi [rad], any finite angle; default 0 (the closed forms); "
        "phi != 0 is evaluated with the Gaussian engine (steerjax.steering_at_phase)",
    )
    design.add_argument(
        "--omega-hz",
        dest="omega_hz",
        metavar="HZ",
        type=number_argument,
        help="oscillator frequency Omega/2pi [Hz], > 0: evaluate beyond the rotating-wave "
        "approximation (lab-frame model, steerjax.lab_frame_steering): E is then the rotation-"
        "invariant E, and Reid's E with the paper's fixed X/P pairing at its best instant is "
        "added (E_*_reid_fixed); default: the paper's model",
    )
    add_thermal_arguments(parser)
    cond = parser.add_argument_group(
        "conditional scheme (Sec. VI, Appendix B)",
        wrap(
            "Also evaluate the conditional E_c: the output light is measured by homodyne detection "
            "and the steering is conditioned on the record (Kalman-Bucy filter)."
        ),
    )
    cond.add_argument(
        "--conditional",
        action="store_true",
        help="also evaluate the conditional E_c,+|- and E_c,-|+ (columns: see below)",
    )
    cond.add_argument(
        "--efficiency",
        metavar="ETA",
        type=number_argument,
        help="detection efficiency eta [dimensionless], in [0, 1] (0: no measurement, E_c = E); "
        "default 1; needs --conditional",
    )
    cond.add_argument(
        "--lo-phase",
        dest="lo_phase",
        metavar="PHASE",
        default=_UNSET,
        type=lo_phase_argument,
        help="local-oscillator phase of the homodyne detection [rad] (0.35pi style accepted), or "
        "'optimal' (the default: optimised in [0, pi) for each direction separately); "
        "needs --conditional",
    )
    sens = parser.add_argument_group("sensitivities and steering margins (beyond the paper)")
    sens.add_argument(
        "--margins",
        action="store_true",
        help="also give, for every parameter x (theta_+-, C_+-, eps, phi, gamma0_+-_hz, nbar_+-), "
        "dE/dx of both directions [1/unit of x] and the steering margin, the largest error in x "
        "alone that keeps E < 1/2 [unit of x] (steerjax.design_sensitivity; columns: see below)",
    )
    io = parser.add_argument_group("batch and output")
    io.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="evaluate every row of this CSV file instead of one design (columns: see below)",
    )
    io.add_argument(
        "--out",
        metavar="FILE",
        help="with --from: write the results to this CSV file instead of stdout (replaced "
        "atomically; its folder must exist)",
    )
    io.add_argument("--json", action="store_true", help="one design: print one JSON object instead of text")
    io.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no notes on stderr (errors still shown)",
    )
    parser.set_defaults(func=command(parser, run))
    return parser


def run(args: argparse.Namespace) -> int:
    """Body of the command (errors are turned into exit statuses by :func:`command`)."""
    conditional_settings(args)  # flag errors first, in both modes
    if args.from_file is not None:
        return run_batch(args)
    return run_single(args)


def run_batch(args: argparse.Namespace) -> int:
    prog = "steerjax evaluate"
    if args.json:
        raise UsageError("--json is for one design; with --from the results are a CSV file")
    check_out_file(args.out)
    conditional = bool(args.conditional)
    columns, explicit, implicit = _columns_spec(args)
    table = read_table(args.from_file, columns)
    check_conditional_columns(table, conditional)
    check_conflicts(table, explicit, (*INPUT_COLUMNS, PHI_COLUMN, *CONDITIONAL_INPUT_COLUMNS))
    used = resolve_thermal(table, thermal_values_from_args(args))
    filled = [name for name in INPUT_COLUMNS if name not in table.in_file]
    if args.phi is not None:  # a phi column only when the file or --phi gave phi
        filled.append(PHI_COLUMN)
    if args.omega_hz is not None:  # likewise omega_hz
        filled.append(OMEGA_COLUMN)
    lab = has_omega(table)
    if lab and (conditional or args.margins):
        raise UsageError(
            "omega_hz (the lab-frame model) is not supported with --conditional or --margins "
            "(paper's model only)"
        )
    columns = result_columns(conditional=conditional, margins=args.margins, lab=lab)
    _note_inputs(prog, args, table, filled, {**implicit, **explicit}, used, columns)
    with ProgressBar(quiet=args.quiet) as bar:
        rows, out_columns, lab_notes = evaluate_table(
            table, filled, conditional=conditional, margins=args.margins, progress=bar
        )
    for message in table.error_messages():
        print(message, file=sys.stderr)
    for message in lab_notes:
        note(prog, message, quiet=args.quiet)
    n_bad = len(table.problems)
    if args.out is None:
        print_stdout(csv_text(out_columns))
        if n_bad:
            note(prog, f"{n_bad} of {len(table)} rows could not be evaluated (see above)", quiet=args.quiet)
        return 1 if n_bad else 0
    if write_out_file(prog, args.out, lambda path: write_csv(path, out_columns, parents=False)):
        return 1
    note(
        prog,
        f"wrote {rows.size} of {len(table)} rows to {args.out}"
        + (f"; {n_bad} bad row{'s' if n_bad != 1 else ''} (see above)" if n_bad else ""),
        quiet=args.quiet,
    )
    return 1 if n_bad else 0


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
