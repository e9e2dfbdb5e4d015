"""``steerjax optimize``: optimal steering over the tunable parameters (Sec. V of the paper).

The jobs (one optimum each) come from the flags' product grid (:func:`._optimize_jobs.jobs_from_flags`)
or from a job file read by :func:`steerjax.io.read_table` (:mod:`._optimize_jobs`: columns, flags
that fill columns, notes).  The library checks each row and solves the good ones
(:mod:`steerjax.optim._jobs`: one batched :func:`steerjax.optimize` call per group of rows that
share a compiled program); :mod:`._optimize_jobs` also formats the table, CSV or JSON.  Bad rows are
reported as ``FILE:LINE: reason``; the good rows are still written, and the exit status is 1.
The epilog below is the user's reference (also on docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import sys

import steerjax as sj

from .._io import csv_text, json_records
from ..io._console import ProgressBar
from ..io._tables import read_table, resolve_thermal
from ..io._text import (
    ANGLE_FORMS,
    MISSING_RULE,
    parse_coupling,
    parse_direction,
    parse_lo_phase,
    parse_number,
)
from ..optim._job_columns import (
    _DEFAULT_C_PLUS_RATIO,
    DIAGNOSTIC_COLUMNS,
    RESULT_COLUMNS,
    SENSITIVITY_PARAMETERS,
    output_table,
)
from ..optim._job_report import job_problems
from ..optim._jobs import solve, solve_file
from ._messages import UsageError, check_conflicts, check_out_file, command, error, note, print_stdout, wrap
from ._numbers import _UNSET, angle_argument, argument, int_in
from ._optimize_jobs import (
    MAX_SEED,
    MAX_STARTS,
    PROG,
    _batch_columns,
    _check_flags,
    _conditional_flags,
    _note_batch_inputs,
    _note_not_converged,
    _write_out,
    format_table,
    jobs_from_flags,
)
from ._thermal import add_thermal_arguments, thermal_values_from_args

_CONDITIONAL_EPILOG = """
conditional scheme (--conditional; Sec. VI, Appendix B): the output light is measured by
  homodyne detection (efficiency --efficiency, default 1) and the conditional E is minimised,
  over the design and the local-oscillator phase (--lo-phase optimal, the default) or at a fixed
  phase (--lo-phase VALUE).  E_plus_given_minus and E_minus_given_plus are then conditional;
  the columns lo_phase [rad], E_u_plus_given_minus, E_u_minus_given_plus (unconditional E at
  the same design) are added.  Batch columns: conditional (true/false), efficiency,
  lo_phase_min, lo_phase_max [rad] (empty: optimised)."""

_EPILOG = f"""\
examples:
  steerjax optimize --thermal hot --c-minus 10
  steerjax optimize --thermal hot --c-minus 2 10 100 --direction plus-given-minus minus-given-plus
  steerjax optimize --thermal hot --c-minus-grid 1 1000 200 --eps 0 0.2 --out optima.csv
  steerjax optimize --thermal vacuum-server --c-minus 10 --theta-minus-bounds 0.2pi 0.3pi --json
  steerjax optimize --from jobs.csv --out results.csv

several values: --c-minus, --eps, --coupling, --direction (and --efficiency) take one or more
  values; every combination is optimised (product grid; C_- varies fastest).

batch input (--from FILE): a CSV file with a header row and the columns
  C_minus                   [1]    the client's cooperativity (or give one value with --c-minus)
  eps                       [1]    transmission loss in [0, 1); default 0 (or --eps)
  coupling                         asymmetric | symmetric; default asymmetric (or --coupling)
  direction                        plus-given-minus | minus-given-plus; default plus-given-minus
  thermal                          a preset name per row (hot, vacuum-server), and/or
  gamma0_plus_hz, nbar_plus, gamma0_minus_hz, nbar_minus   [Hz], [quanta]
  optional constraints (an empty cell means none):
  theta_plus_min, theta_plus_max, theta_minus_min, theta_minus_max   [rad], e.g. 0.25pi
  C_plus_min, C_plus_max    [1]    default C_- x [{_DEFAULT_C_PLUS_RATIO[0]:g}, {_DEFAULT_C_PLUS_RATIO[1]:g}]
  min_damping_ratio         [1]    keep gamma_j/(gamma_j,0 + Gamma_j) >= this, in [0, 1)
  optional tolerances (an empty cell means none; see the flags of the same names):
  phase_tolerance, theta_tolerance   [rad]   c_tolerance   [1, relative]
  eps_range_min, eps_range_max       [1]     max_settling_time_s   [s]
  max_other_E, min_other_E  [1]    bound on the other direction's E at the same design (one)
  optional, beyond the rotating-wave approximation (see --omega-hz, --phi-bounds):
  omega_hz                  [Hz]   oscillator frequency Omega/2pi: lab-frame model, phi re-tuned
  phi_min, phi_max          [rad]  range of the carrier phase phi (default [-pi/2, pi/2] with
                                   omega_hz; given without omega_hz: phi re-tuned in the paper's model)
  A flag fills a column the file lacks (one value); a flag may not repeat a column of the file.
  Thermal values: own column (non-empty cell) > explicit flag > the row's preset > --thermal.
  Other columns (ids, labels) are copied to the output unchanged.  Blank lines and lines
  starting with # are skipped.  All rows with the same coupling and direction are solved by
  one batched, compiled call.

output: stdout gets a table (optima from flags), or the CSV (--from without --out), or a JSON
  list of records (--json).  --out FILE writes a CSV (a JSON list if FILE ends in .json): a
  regular file is replaced whole or not at all, a symbolic link is written through, a device
  or FIFO directly; the file's folder must exist.  Columns: the job's columns, then
  {", ".join(RESULT_COLUMNS[:5])},
  {", ".join(RESULT_COLUMNS[5:])},
  {", ".join(DIAGNOSTIC_COLUMNS)}
  (angles in radians, rates gamma/2pi in Hz, full float64 precision).  E is the minimised
  parameter; with a tolerance E_worst (the worst case, then minimised) follows E; when some
  job bounds the other direction's E, E_other (that E at the design, for every job) follows.
  at_stability_edge: the optimum is an infimum approached at an oscillator's
  stability edge (damping ratio < {sj.optim.EDGE_DAMPING_RATIO:g}); the design given is stable.
{_CONDITIONAL_EPILOG}
numbers: {wrap(MISSING_RULE, 86).replace(chr(10), chr(10) + "  ")}.
  Counts (--starts, --seed, N of --c-minus-grid) are whole numbers.  Output files write a value
  that was not given as an empty cell, so they can be read back as input.

sensitivities (--sensitivities; steerjax.optimum_sensitivity, envelope theorem with the
  active bounds, no re-optimisation): the columns dEstar_d_<p> [1/unit of p], then
  elasticity_<p> = d ln E*/d ln p [1], for p = {", ".join(SENSITIVITY_PARAMETERS)}
  (nbar [1], gamma0 [Hz], eps [1], C_minus [1]), written last; also for min_damping_ratio,
  phase_tolerance, theta_tolerance, C_tolerance, eps_range_low, eps_range_high and
  max_settling_time [s] when some job sets them.  E* is the minimised value (E_worst with a
  tolerance); an empty cell: the parameter does not apply to that job (e.g. a tolerance of 0).

exit status: 0 success; 1 a bad value or row (the good rows are still written), or an
  unwritable output; 2 usage error; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): no
  output file written."""


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``optimize`` command."""
    parser = subparsers.add_parser(
        "optimize",
        help="optimal steering: the design minimising E_+|- or E_-|+ for given C_- (Sec. V)",
        description=wrap(
            "Find the design (interaction angles theta_+, theta_- and the server's cooperativity "
            "C_+) that minimises the Reid steering parameter of one direction for a client of "
            "given cooperativity C_- (Sec. V of the paper; Figs. 4-7).  The client (-) is first in "
            "the cascade, the server (+) second; steering when E < 1/2.  Every design searched is "
            "dynamically stable; the asymmetric optimum lies at the client's stability edge and "
            "is reported as such.  Rates are gamma/2pi in Hz; angles in radians."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    number = argument(parse_number)
    jobs = parser.add_argument_group(
        "problem (several values: every combination; with --from, a flag fills a column the file lacks)"
    )
    jobs.add_argument(
        "--c-minus",
        dest="C_minus",
        nargs="+",
        metavar="C",
        type=number,
        help="quantum cooperativity of the client, C_- [dimensionless], > 0 (fixed; one or more values)",
    )
    jobs.add_argument(
        "--c-minus-grid",
        dest="C_minus_grid",
        nargs=3,
        metavar=("START", "STOP", "N"),
        help="N log-spaced client cooperativities C_- [dimensionless] from START to STOP inclusive "
        "(instead of --c-minus)",
    )
    jobs.add_argument(
        "--eps",
        nargs="+",
        metavar="EPS",
        type=number,
        help="power transmission loss between the subsystems [dimensionless], in [0, 1); default 0",
    )
    jobs.add_argument(
        "--direction",
        nargs="+",
        metavar="DIR",
        type=argument(parse_direction),
        help="what is minimised: plus-given-minus (E_+|-, client => server; the default) or "
        "minus-given-plus (E_-|+, server => client) [choice]",
    )
    jobs.add_argument(
        "--coupling",
        nargs="+",
        metavar="KIND",
        type=argument(parse_coupling),
        help="asymmetric (theta_+, theta_-, C_+ free; the default) or symmetric (theta_+ = theta_- "
        "tied, f = 0) [choice]",
    )
    bounds = parser.add_argument_group(
        "constraints (optional; they apply to every job)", wrap(f"Angles: {ANGLE_FORMS}.")
    )
    bounds.add_argument(
        "--theta-plus-bounds",
        dest="theta_plus_bounds",
        nargs=2,
        metavar=("LO", "HI"),
        type=angle_argument,
        help="search theta_+ [rad] within [LO, HI], 0 <= LO <= HI <= pi/2 (LO = HI fixes it); "
        "the stable part is used",
    )
    bounds.add_argument(
        "--theta-minus-bounds",
        dest="theta_minus_bounds",
        nargs=2,
        metavar=("LO", "HI"),
        type=angle_argument,
        help="search theta_- [rad] within [LO, HI], 0 <= LO <= HI <= pi/2 (a client of limited tunability)",
    )
    bounds.add_argument(
        "--c-plus-bounds",
        dest="C_plus_bounds",
        nargs=2,
        metavar=("LO", "HI"),
        type=number,
        help="search C_+ [dimensionless] within [LO, HI], 0 < LO <= HI; default "
        f"C_- x [{_DEFAULT_C_PLUS_RATIO[0]:g}, {_DEFAULT_C_PLUS_RATIO[1]:g}]",
    )
    bounds.add_argument(
        "--min-damping-ratio",
        dest="min_damping_ratio",
        metavar="R",
        type=number,
        help="keep each oscillator's damping ratio gamma_j/(gamma_j,0 + Gamma_j) [dimensionless] "
        "at or above R, in [0, 1) (a margin from the stability edge); default 0",
    )
    tol = parser.add_argument_group(
        "tolerances (optional; issue 11): minimise the worst case of E over the errors a lab has",
        wrap(
            "With any tolerance the minimised value is the worst case over the tolerance set and the "
            "output gains the column E_worst after E (E stays the nominal value, no errors).  The phase "
            "error is maximised exactly; the box of errors on theta, C and eps is searched at its "
            "corners and then locally (see steerjax.Problem)."
        ),
    )
    bounds.add_argument(
        "--omega-hz",
        dest="omega_hz",
        metavar="HZ",
        type=float,
        help="oscillator frequency Omega/2pi [Hz], > 0: optimise in the lab-frame model beyond the "
        "rotating-wave approximation (rotation-invariant E, steerjax.lab_frame_steering), with the "
        "carrier phase phi re-tuned (output column phi); default: the paper's model, phi = 0",
    )
    bounds.add_argument(
        "--phi-bounds",
        dest="phi_bounds",
        nargs=2,
        metavar=("LO", "HI"),
        type=angle_argument,
        help="search the carrier phase phi [rad] within [LO, HI], -pi/2 <= LO <= HI <= pi/2 "
        "(LO = HI fixes it; default with --omega-hz: [-pi/2, pi/2]; without it: phi = 0)",
    )
    tol.add_argument(
        "--phase-tolerance",
        dest="phase_tolerance",
        metavar="RAD",
        type=angle_argument,
        help="error of the carrier phase [rad], |phi - phi0| <= RAD in [0, pi/2] (a free phi is re-tuned)",
    )
    tol.add_argument(
        "--theta-tolerance",
        dest="theta_tolerance",
        metavar="RAD",
        type=angle_argument,
        help="error of each angle theta_+, theta_- [rad], independent, in [0, pi/4]",
    )
    tol.add_argument(
        "--c-tolerance",
        dest="C_tolerance",
        metavar="REL",
        type=number,
        help="relative error of each cooperativity C_+, C_- [dimensionless], in [0, 1)",
    )
    tol.add_argument(
        "--eps-range",
        dest="eps_range",
        nargs=2,
        metavar=("LO", "HI"),
        type=number,
        help="the true loss lies in [LO, HI] (0 <= LO <= HI < 1, containing --eps)",
    )
    tol.add_argument(
        "--max-settling-time",
        "--min-settling-time",
        dest="max_settling_time",
        metavar="SECONDS",
        type=number,
        help="each oscillator settles within SECONDS [s]: net damping gamma_j/2pi >= 1/SECONDS Hz "
        "at the nominal design (--min-settling-time: the same flag)",
    )
    other = parser.add_argument_group(
        "the other direction (optional; issue 12): trade one direction against the other",
        wrap(
            "Minimise E of --direction subject to a bound on the other direction's E at the same "
            "design (E_-|+ when E_+|- is minimised).  The output gains the column E_other after E.  "
            "A bound that no design meets is reported with the reachable range.  See also "
            "'steerjax pareto'."
        ),
    )
    other.add_argument(
        "--max-other-e",
        dest="max_other_E",
        metavar="E",
        type=number,
        help="the other direction's E must be <= E [dimensionless], in (0, inf)",
    )
    other.add_argument(
        "--min-other-e",
        dest="min_other_E",
        metavar="E",
        type=number,
        help="the other direction's E must be >= E, in (0, inf) (one-way steering: E >= 0.5 means "
        "the other direction does not steer)",
    )
    cond = parser.add_argument_group(
        "conditional scheme (Sec. VI, Appendix B)",
        wrap(
            "Minimise the conditional E: the output light is measured by homodyne detection "
            "and the steering is conditioned on the record."
        ),
    )
    cond.add_argument(
        "--conditional", action="store_true", help="minimise the conditional E instead of the plain E"
    )
    cond.add_argument(
        "--efficiency",
        nargs="+",
        metavar="ETA",
        type=number,
        help="detection efficiency eta [dimensionless], in [0, 1] (0: no measurement); default 1; "
        "one or more values; needs --conditional",
    )
    cond.add_argument(
        "--lo-phase",
        dest="lo_phase",
        metavar="PHASE",
        default=_UNSET,
        type=argument(parse_lo_phase),
        help="local-oscillator phase of the homodyne detection [rad], or 'optimal' (the default: "
        "optimised over a full period); needs --conditional",
    )
    search = parser.add_argument_group("search")
    search.add_argument(
        "--starts",
        type=int_in(1, MAX_STARTS),
        default=8,
        metavar="N",
        help=f"starting points per optimum [count], in [1, {MAX_STARTS}] (structured guesses, then "
        "random); default 8",
    )
    search.add_argument(
        "--seed",
        type=int_in(0, MAX_SEED),
        default=0,
        metavar="S",
        help="seed of the random starting points [integer], in [0, 2^63 - 1]; same seed, same "
        "result; default 0",
    )
    add_thermal_arguments(parser)
    io = parser.add_argument_group("batch and output")
    io.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="optimise every row (job) of this CSV file instead of the flags' jobs (columns: see below)",
    )
    io.add_argument(
        "--out",
        metavar="FILE",
        help="write the results to this CSV file (a JSON list if it ends in .json), replaced "
        "atomically; its folder must exist",
    )
    io.add_argument(
        "--json", action="store_true", help="print a JSON list of records (full precision) instead of text"
    )
    io.add_argument(
        "--sensitivities",
        action="store_true",
        help="add the derivatives dE*/dp and elasticities d ln E*/d ln p of each optimum with respect "
        "to its fixed parameters (steerjax.optimum_sensitivity; columns: see below)",
    )
    io.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no notes on stderr (errors still shown)",
    )
    parser.set_defaults(func=command(parser, run))
    return parser


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Body of the command (errors are turned into exit statuses by :func:`command`)."""
    _check_flags(args)
    check_out_file(args.out)
    if args.from_file is not None:
        return run_batch(args)
    return run_flags(args)


def run_flags(args: argparse.Namespace) -> int:
    table = jobs_from_flags(args)
    with ProgressBar(quiet=args.quiet) as bar:
        rows, results = solve(
            table, n_starts=args.starts, seed=args.seed, sensitivities=args.sensitivities, progress=bar
        )
    for message in job_problems(table):
        error(PROG, message)
    conditional, _, _ = _conditional_flags(args)
    columns = output_table(table, rows, [], results, conditional=conditional)
    if args.json:
        print_stdout(json.dumps(json_records(columns), indent=2))
    elif rows.size:
        print_stdout(format_table(args, table, rows, results))
    status = 1 if table.problems else 0
    if args.out is not None and rows.size:
        status = max(status, _write_out(args, columns, rows.size, len(table)))
    _note_not_converged(results, args.quiet)
    return status


def run_batch(args: argparse.Namespace) -> int:
    columns, explicit, implicit = _batch_columns(args)
    table = read_table(args.from_file, columns)
    check_conflicts(table, explicit)
    conditional, efficiency, lo_phase = _conditional_flags(args)
    if not conditional and "conditional" not in table.in_file and (efficiency or lo_phase is not _UNSET):
        flag = "--efficiency" if efficiency else "--lo-phase"
        raise UsageError(
            f"{flag} is a setting of the conditional scheme: add --conditional (or a conditional column)"
        )
    used = resolve_thermal(table, thermal_values_from_args(args))
    _note_batch_inputs(args, table, explicit, implicit, used)
    with ProgressBar(quiet=args.quiet) as bar:
        rows, results, out = solve_file(
            table,
            explicit,
            conditional=conditional,
            n_starts=args.starts,
            seed=args.seed,
            sensitivities=args.sensitivities,
            progress=bar,
        )
    for message in table.error_messages():
        print(message, file=sys.stderr)
    n_bad = len(table.problems)
    status = 1 if n_bad else 0
    if args.json:
        print_stdout(json.dumps(json_records(out), indent=2))
    elif args.out is None:
        print_stdout(csv_text(out))
    if args.out is not None:
        status = max(status, _write_out(args, out, rows.size, len(table)))
    if n_bad:
        note(PROG, f"{n_bad} of {len(table)} rows could not be optimised (see above)", quiet=args.quiet)
    _note_not_converged(results, args.quiet)
    return status
