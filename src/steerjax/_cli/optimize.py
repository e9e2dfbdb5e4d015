"""``steerjax optimize``: optimal steering over the tunable parameters (Sec. V of the paper).

For a client of given cooperativity ``C_-`` (fixed) the command finds the design -- the angles
theta_+, theta_- and the server's cooperativity C_+ -- that minimises the Reid parameter of one
direction, E_+|- (client => server, the default) or E_-|+, by calling :func:`steerjax.optimize`
(multi-start projected Newton over a reparameterisation in which every point is a stable design).

One or several optima from flags::

    steerjax optimize --thermal hot --c-minus 10
    steerjax optimize --thermal hot --c-minus-grid 1 1000 50 --eps 0 0.2 --out optima.csv
    steerjax optimize --thermal vacuum-server --c-minus 2 10 100 --direction minus-given-plus --json

``--c-minus``, ``--eps``, ``--coupling``, ``--direction`` (and ``--efficiency``) each take one or
more values; the optima of every combination are computed (their product grid).  The result is a
table on stdout (``--json``: a list of records with full precision; ``--out FILE``: a CSV file,
written atomically).

Many jobs from a file::

    steerjax optimize --from jobs.csv --out results.csv

reads a CSV with the columns ``C_minus`` and optionally ``eps``, ``coupling``, ``direction``,
``thermal`` (a preset name) and the explicit thermal columns of ``steerjax evaluate``, plus the
optional constraint columns :data:`CONSTRAINT_COLUMNS` and the conditional-scheme columns
:data:`CONDITIONAL_COLUMNS`.  A column the file lacks comes from the flag of the same name (one
value) or its default.

How the work is done: the jobs (rows) are grouped by the choices that select a compiled program
(:func:`group_key`: coupling, direction, conditional or not), and each group is solved by ONE
call of :func:`steerjax.optimize` on a batched :class:`steerjax.Problem` (compiled once per group,
about 7 s on a CPU; then well under a millisecond per optimum).  Bad rows (a cell that does not
parse, a value outside its domain, constraints that no stable design satisfies) are reported on
stderr as ``FILE:LINE: reason``; the good rows are still solved and written, and the exit status
is 1.

Conditional mode (``--conditional``; Sec. VI and Appendix B; offered when the installed
:class:`steerjax.Problem` accepts ``conditional``): the output light is measured by homodyne
detection of efficiency ``--efficiency`` and the *conditional* E is minimised, over the design and
the local-oscillator phase (``--lo-phase optimal``, the default) or at a fixed phase
(``--lo-phase VALUE``).  ``E_plus_given_minus`` and ``E_minus_given_plus`` are then the
conditional parameters, and the columns :data:`CONDITIONAL_RESULT_COLUMNS` (the phase, and the
unconditional E at the same design) are added.

Where to extend: a job's Problem options are collected from the table by :func:`problem_options`
(one place), the choices that select a compiled program form :func:`group_key`, and the result
columns come from :meth:`steerjax.OptimumResult.columns`.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import math
import sys
from collections.abc import Sequence

import numpy as np

import steerjax as sj

from .._io import atomic_write_text, csv_text, write_csv
from .._validation import allowed_range, domain_violations
from .._validation import parse_direction as _parse_direction
from ._common import (
    ANGLE_FORMS,
    MISSING_RULE,
    REQUIRED,
    THERMAL_FIELDS,
    THERMAL_PRESET_COLUMN,
    Column,
    InputError,
    Progress,
    Table,
    UsageError,
    add_thermal_arguments,
    angle_argument,
    command,
    describe_thermal_source,
    error,
    format_columns,
    format_number,
    note,
    parse_angle,
    parse_integer,
    parse_lo_phase,
    parse_number,
    print_stdout,
    read_table,
    reject_out_of_domain,
    resolve_thermal,
    thermal_from_args,
    thermal_table_columns,
    thermal_values_from_args,
    wrap,
)
from ._output import check_out_file, write_out_file

__all__ = [
    "register",
    "JOB_COLUMNS",
    "CONSTRAINT_COLUMNS",
    "CONDITIONAL_COLUMNS",
    "RESULT_COLUMNS",
    "CONDITIONAL_RESULT_COLUMNS",
    "DIAGNOSTIC_COLUMNS",
    "OUTPUT_RESULT_COLUMNS",
    "ALL_RESULT_COLUMNS",
    "parse_coupling",
    "parse_direction",
    "parse_bool",
    "parse_lo_phase",
    "jobs_from_flags",
    "group_key",
    "problem_options",
    "build_problem",
    "feasible_problem",
    "solve",
]

PROG = "steerjax optimize"

JOB_COLUMNS = (THERMAL_PRESET_COLUMN, *THERMAL_FIELDS, "coupling", "direction", "eps", "C_minus")
"""Columns that state a job (one optimisation problem), in output order."""

CONSTRAINT_COLUMNS = (
    "theta_plus_min",
    "theta_plus_max",
    "theta_minus_min",
    "theta_minus_max",
    "C_plus_min",
    "C_plus_max",
    "min_damping_ratio",
)
"""Optional constraint columns of a job (empty cell: no constraint).  Angles in radians."""

CONDITIONAL_COLUMNS = ("conditional", "efficiency", "lo_phase_min", "lo_phase_max")
"""Job columns of the conditional scheme: ``conditional`` (true/false), the detection
``efficiency`` in [0, 1] (empty: 1) and the local-oscillator phase range [rad] (empty: optimised
over a full period; equal ends fix the phase).  Only for conditional jobs."""

RESULT_COLUMNS = (
    "E",
    "E_plus_given_minus",
    "E_minus_given_plus",
    "theta_plus",
    "theta_minus",
    "C_plus",
    "gamma_plus_hz",
    "gamma_minus_hz",
    "converged",
    "at_stability_edge",
)
"""The optimum: ``E`` is the minimised parameter (of the job's direction)."""

CONDITIONAL_RESULT_COLUMNS = ("lo_phase", "E_u_plus_given_minus", "E_u_minus_given_plus")
"""Written after :data:`RESULT_COLUMNS` when some job is conditional: the optimal local-oscillator
phase [rad] (NaN for an unconditional job) and the unconditional E at the same design."""

DIAGNOSTIC_COLUMNS = (
    "C_plus_over_C_minus",
    "damping_ratio_plus",
    "damping_ratio_minus",
    "grad_norm",
    "steps",
)
"""Written last."""

OUTPUT_RESULT_COLUMNS = RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""The columns added to every output row when no job is conditional, in order."""

ALL_RESULT_COLUMNS = RESULT_COLUMNS + CONDITIONAL_RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""Every result column (those of a results file used as input are replaced)."""

_HALF_PI = math.pi / 2
_DEFAULT_C_PLUS_RATIO = tuple(
    float(x) for x in inspect.signature(sj.Problem).parameters["C_plus_ratio_bounds"].default
)
"""The library's default search range of C_+/C_- (used for rows with one C_+ bound only)."""

_DEFAULT_LO_PHASE_RANGE = (0.0, math.pi)
"""The library's default phase range, a full period (used for rows with one end only)."""

_DEFAULTS = {"eps": 0.0, "coupling": "asymmetric", "direction": "plus-given-minus"}

_BOUND_FLAGS = {
    # flag dest: (flag, low column, high column)
    "theta_plus_bounds": ("--theta-plus-bounds", "theta_plus_min", "theta_plus_max"),
    "theta_minus_bounds": ("--theta-minus-bounds", "theta_minus_min", "theta_minus_max"),
    "C_plus_bounds": ("--c-plus-bounds", "C_plus_min", "C_plus_max"),
}

_JOB_FLAGS = {
    "C_minus": "--c-minus",
    "eps": "--eps",
    "coupling": "--coupling",
    "direction": "--direction",
    "efficiency": "--efficiency",
}

_DIRECTION_WORDS = {
    "plus-given-minus": ("E_+|-", "client => server"),
    "minus-given-plus": ("E_-|+", "server => client"),
}
_COUPLING_WORDS = {
    "asymmetric": "theta_+, theta_-, C_+ free",
    "symmetric": "theta_+ = theta_- tied, C_+ free",
}

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
  parameter.  at_stability_edge: the optimum is an infimum approached at an oscillator's
  stability edge (damping ratio < {sj.EDGE_DAMPING_RATIO:g}); the design given is stable.
{_CONDITIONAL_EPILOG}
numbers: {wrap(MISSING_RULE, 86).replace(chr(10), chr(10) + "  ")}.
  Counts (--starts, --seed, N of --c-minus-grid) are whole numbers.  Output files write a value
  that was not given as an empty cell, so they can be read back as input.

exit status: 0 success; 1 a bad value or row (the good rows are still written), or an
  unwritable output; 2 usage error; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): no
  output file written."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _not_allowed(kind: str, text: str, allowed: Sequence[str]) -> ValueError:
    return ValueError(f"{str(text).strip()!r} is not a {kind}; allowed: {', '.join(allowed)}")


def parse_coupling(text: str) -> str:
    """Text -> ``"asymmetric"`` or ``"symmetric"`` (case and ``_``/``-`` ignored)."""
    key = str(text).strip().lower().replace("_", "-")
    if key not in sj.COUPLINGS:
        raise _not_allowed("coupling", text, sj.COUPLINGS)
    return key


def parse_direction(text: str) -> str:
    """Text -> ``"plus-given-minus"`` or ``"minus-given-plus"`` (also ``+|-``, ``-|+``; case and
    ``_``/``-`` ignored): the library's parser (:func:`steerjax._validation.parse_direction`)
    with this command's message."""
    try:
        return _parse_direction(str(text).strip())
    except ValueError:
        raise _not_allowed("direction", text, sj.DIRECTIONS) from None


_TRUE, _FALSE = ("true", "yes", "y", "t", "1"), ("false", "no", "n", "f", "0")


def parse_bool(text: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0; any case) -> bool."""
    key = str(text).strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"{str(text).strip()!r} is not true or false")


def _argument(parse):
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = parse_integer(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is outside the allowed range [{low}, inf)")
        return value

    return parse


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
    number = _argument(parse_number)
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
        type=_argument(parse_direction),
        help="what is minimised: plus-given-minus (E_+|-, client => server; the default) or "
        "minus-given-plus (E_-|+, server => client) [choice]",
    )
    jobs.add_argument(
        "--coupling",
        nargs="+",
        metavar="KIND",
        type=_argument(parse_coupling),
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
        type=_argument(parse_lo_phase),
        help="local-oscillator phase of the homodyne detection [rad], or 'optimal' (the default: "
        "optimised over a full period); needs --conditional",
    )
    search = parser.add_argument_group("search")
    search.add_argument(
        "--starts",
        type=_int_at_least(1),
        default=8,
        metavar="N",
        help="starting points per optimum [count], >= 1 (structured guesses, then random); default 8",
    )
    search.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        metavar="S",
        help="seed of the random starting points [integer], >= 0; same seed, same result; default 0",
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
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no notes on stderr (errors still shown)",
    )
    parser.set_defaults(func=command(parser, run))
    return parser


# ---------------------------------------------------------------------------------------------
# Flags -> values
# ---------------------------------------------------------------------------------------------


_UNSET = object()
"""Value of ``--lo-phase`` when the flag is not given (None means ``optimal``)."""


def _conditional_flags(args: argparse.Namespace) -> tuple[bool, list[float] | None, object]:
    """``(--conditional, --efficiency values or None, --lo-phase)``; ``--lo-phase`` is
    ``_UNSET`` when not given, None for ``optimal``, else the angle."""
    return (
        bool(getattr(args, "conditional", False)),
        getattr(args, "efficiency", None),
        getattr(args, "lo_phase", _UNSET),
    )


def _grid_from_flag(texts: Sequence[str]) -> np.ndarray:
    """``--c-minus-grid START STOP N`` -> the log-spaced values (usage errors name the flag)."""
    flag = "--c-minus-grid"
    start_text, stop_text, n_text = texts
    ends = {}
    for name, text in (("START", start_text), ("STOP", stop_text)):
        try:
            value = parse_number(text)
        except ValueError as exc:
            raise UsageError(f"{flag}: {name}: {exc}") from None
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{flag}: {name} = {value!r} is outside the allowed range (0, inf)")
        ends[name] = value
    try:
        n = parse_integer(n_text)
    except ValueError:
        raise UsageError(
            f"{flag}: N = {str(n_text).strip()!r} is not an integer; write a whole number in ASCII digits"
        ) from None
    if n < 1:
        raise UsageError(f"{flag}: N = {n} is outside the allowed range [1, inf)")
    if n == 1 and ends["START"] != ends["STOP"]:
        raise UsageError(f"{flag}: N = 1 gives one value, so START and STOP must be equal (or use --c-minus)")
    return np.asarray(sj.log_grid(ends["START"], ends["STOP"], n), dtype=np.float64)


def _check_flags(args: argparse.Namespace) -> None:
    """Ranges of the constraint flags (usage errors, status 2, naming flag, values and range)
    and of ``--efficiency`` (a physical value: status 1, like ``--eps``)."""
    for dest, (flag, _, _) in _BOUND_FLAGS.items():
        pair = getattr(args, dest)
        if pair is None:
            continue
        lo, hi = pair
        if dest.startswith("theta"):
            ok, rng = 0.0 <= lo <= hi <= _HALF_PI, "0 <= LO <= HI <= pi/2"
        else:
            ok, rng = 0.0 < lo <= hi < math.inf, "0 < LO <= HI < inf"
        if not ok:
            raise UsageError(f"{flag}: LO = {lo!r}, HI = {hi!r} is outside the allowed range {rng}")
    r = args.min_damping_ratio
    if r is not None and not (0.0 <= r < 1.0):
        raise UsageError(f"--min-damping-ratio: R = {r!r} is outside the allowed range [0, 1)")
    _, efficiency, _ = _conditional_flags(args)
    bad = [e for e in efficiency or [] if not (0.0 <= e <= 1.0)]
    if bad:
        shown = ", ".join(repr(float(e)) for e in bad)
        raise InputError(f"efficiency = {shown} (--efficiency) is outside the allowed range [0, 1]")


def _constraint_flag_values(args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """Constraint (and phase) column -> (value, flag) for the flags given; NaN: no constraint."""
    out: dict[str, tuple[float, str]] = {}
    for dest, (flag, lo_col, hi_col) in _BOUND_FLAGS.items():
        pair = getattr(args, dest)
        if pair is not None:
            out[lo_col], out[hi_col] = (float(pair[0]), flag), (float(pair[1]), flag)
    if args.min_damping_ratio is not None:
        out["min_damping_ratio"] = (float(args.min_damping_ratio), "--min-damping-ratio")
    _, _, lo_phase = _conditional_flags(args)
    if lo_phase is not _UNSET:
        value = math.nan if lo_phase is None else float(lo_phase)
        out["lo_phase_min"] = out["lo_phase_max"] = (value, "--lo-phase")
    return out


def _check_flag_domain(name: str, flag: str, values: Sequence[float]) -> None:
    """InputError (status 1, like ``evaluate``) naming the parameter, the flag, the bad values
    and the allowed range."""
    bad = np.asarray(values, dtype=np.float64)[domain_violations(**{name: values})[name]]
    if bad.size:
        more = f" (and {bad.size - 5} more)" if bad.size > 5 else ""
        shown = ", ".join(repr(float(x)) for x in bad[:5]) + more
        raise InputError(f"{name} = {shown} ({flag}) is outside the allowed range {allowed_range(name)}")


# ---------------------------------------------------------------------------------------------
# Jobs from flags
# ---------------------------------------------------------------------------------------------


def jobs_from_flags(args: argparse.Namespace) -> Table:
    """The product grid of the flags' values as a table of jobs (one row per optimum; C_- varies
    fastest, then eps, efficiency, direction, coupling)."""
    if args.C_minus is not None and args.C_minus_grid is not None:
        raise UsageError("give --c-minus or --c-minus-grid, not both")
    if args.C_minus is None and args.C_minus_grid is None:
        raise UsageError(
            "give the client's cooperativity with --c-minus C [C ...] or --c-minus-grid START STOP N "
            "(or optimise a file of jobs with --from FILE)"
        )
    conditional, efficiency, lo_phase = _conditional_flags(args)
    if not conditional and (efficiency is not None or lo_phase is not _UNSET):
        flag = "--efficiency" if efficiency is not None else "--lo-phase"
        raise UsageError(f"{flag} is a setting of the conditional scheme: add --conditional")
    grid = args.C_minus is None
    C = _grid_from_flag(args.C_minus_grid) if grid else np.asarray(args.C_minus, dtype=np.float64)
    eps = np.asarray(args.eps if args.eps is not None else [_DEFAULTS["eps"]], dtype=np.float64)
    thermal = thermal_from_args(args)  # usage error if incomplete, input error if out of range
    _check_flag_domain("C_minus", "--c-minus-grid" if grid else "--c-minus", C.tolist())
    _check_flag_domain("eps", "--eps", eps.tolist())
    couplings = list(dict.fromkeys(args.coupling or [_DEFAULTS["coupling"]]))
    directions = list(dict.fromkeys(args.direction or [_DEFAULTS["direction"]]))
    etas = (efficiency or [1.0]) if conditional else [math.nan]
    combos = list(itertools.product(couplings, directions, etas, eps.tolist(), C.tolist()))
    n = len(combos)
    values: dict[str, np.ndarray] = {
        THERMAL_PRESET_COLUMN: np.asarray([args.thermal or ""] * n, dtype=object),
        **{f: np.full(n, float(np.asarray(getattr(thermal, f)))) for f in THERMAL_FIELDS},
        "coupling": np.asarray([c[0] for c in combos], dtype=object),
        "direction": np.asarray([c[1] for c in combos], dtype=object),
        "eps": np.asarray([c[3] for c in combos], dtype=np.float64),
        "C_minus": np.asarray([c[4] for c in combos], dtype=np.float64),
        "conditional": np.asarray([conditional] * n, dtype=object),
        "efficiency": np.asarray([c[2] for c in combos], dtype=np.float64),
    }
    constraints = _constraint_flag_values(args)
    for name in (*CONSTRAINT_COLUMNS, "lo_phase_min", "lo_phase_max"):
        values[name] = np.full(n, constraints[name][0] if name in constraints else math.nan)
    values["min_damping_ratio"] = np.nan_to_num(values["min_damping_ratio"], nan=0.0)
    header = list(JOB_COLUMNS)
    if conditional:
        header += ["conditional", "efficiency"]
        header += [c for c in ("lo_phase_min", "lo_phase_max") if not math.isnan(values[c][0])]
    header += [c for c in CONSTRAINT_COLUMNS if c in constraints]
    return Table(
        source="command line",
        header=header,
        in_file=frozenset(header),
        lines=np.arange(1, n + 1, dtype=np.int64),
        values=values,
        extra={},
    )


# ---------------------------------------------------------------------------------------------
# Jobs from a file
# ---------------------------------------------------------------------------------------------


def _single_flag_value(args: argparse.Namespace, name: str):
    """The one value a job flag gives in batch mode, or None (several values: usage error)."""
    values = getattr(args, name, None)
    if values is None:
        return None
    if len(values) != 1:
        raise UsageError(
            f"{_JOB_FLAGS[name]} gives {len(values)} values; with --from a flag fills a column the file "
            "lacks and takes one value (put the combinations in the file as rows)"
        )
    return values[0]


def _or_nan(value) -> float:
    return math.nan if value is None else float(value)


def _batch_columns(args: argparse.Namespace) -> tuple[list[Column], dict[str, str], dict[str, str]]:
    """Column specs and where the values of columns a file lacks would come from:
    ``(columns, explicit, implicit)`` (``explicit``: column -> flag; ``implicit``: column ->
    ``"default"`` or the preset)."""
    if args.C_minus_grid is not None:
        raise UsageError("--c-minus-grid is for jobs from flags; with --from the jobs are the file's rows")
    explicit: dict[str, str] = {}
    implicit: dict[str, str] = {}
    given = {name: _single_flag_value(args, name) for name in _JOB_FLAGS}
    for name, value in given.items():
        if value is not None:
            explicit[name] = _JOB_FLAGS[name]
        elif name in _DEFAULTS:
            implicit[name] = "default"
    conditional, _, _ = _conditional_flags(args)
    if conditional:
        explicit["conditional"] = "--conditional"
    for name, (_, origin) in thermal_values_from_args(args).items():
        (implicit if origin.startswith("--thermal") else explicit)[name] = origin
    constraints = _constraint_flag_values(args)
    for name, (_, flag) in constraints.items():
        explicit[name] = flag

    def default(name):
        if given.get(name) is not None:
            return given[name]
        return _DEFAULTS.get(name, REQUIRED)

    columns = [
        Column("C_minus", default=default("C_minus"), hint="or give one value with --c-minus"),
        Column("eps", default=float(default("eps"))),
        Column("coupling", parse=parse_coupling, default=default("coupling"), numeric=False),
        Column("direction", parse=parse_direction, default=default("direction"), numeric=False),
        Column("conditional", parse=parse_bool, default=conditional, numeric=False, allow_empty=True),
        Column("efficiency", default=_or_nan(given["efficiency"]), allow_empty=True),
    ]
    for name in (*CONSTRAINT_COLUMNS, "lo_phase_min", "lo_phase_max"):
        parse = parse_number if name.startswith("C_") or name == "min_damping_ratio" else parse_angle
        fill = constraints[name][0] if name in constraints else math.nan
        columns.append(Column(name, parse=parse, default=fill, allow_empty=True))
    columns += thermal_table_columns()
    return columns, explicit, implicit


def _check_conflicts(table: Table, explicit: dict[str, str]) -> None:
    both = [name for name in explicit if name in table.in_file]
    if both:
        raise UsageError(
            "; ".join(
                f"{name} is a column of {table.source} and also given as {explicit[name]}" for name in both
            )
            + " -- remove the flag or the column"
        )


def _note_batch_inputs(args, table: Table, explicit, implicit, used) -> None:
    if args.quiet or not len(table):
        return
    parts = []
    for name in ("C_minus", "eps", "coupling", "direction", *CONDITIONAL_COLUMNS, *CONSTRAINT_COLUMNS):
        if name in table.in_file:
            continue
        origin = explicit.get(name) or implicit.get(name)
        if origin is None:
            continue
        value = table.values[name][0]
        shown = repr(value) if isinstance(value, str | bool) else repr(float(value))
        parts.append(f"{name} = {shown} ({origin})")
    thermal_missing = [f for f in THERMAL_FIELDS if f not in table.in_file]
    if thermal_missing:
        sources = sorted(k for k in used if k != "file")
        parts.append(f"{', '.join(thermal_missing)} ({' and '.join(sources) or 'none'})")
    if parts:
        note(PROG, f"columns not in {table.source}, and where their values come from: " + "; ".join(parts))
    if args.thermal is not None and not used.get(f"--thermal {args.thermal}"):
        note(PROG, f"--thermal {args.thermal} is not used: {table.source} gives every thermal value")
    for name in table.extra:
        if name in ALL_RESULT_COLUMNS:
            note(PROG, f"column {name!r} of {table.source} is replaced by this run's results")
        else:
            note(PROG, f"column {name!r} is not a parameter; it is copied to the output unchanged")


def _reject_outside(table: Table, name: str, bad: np.ndarray, rng: str) -> None:
    x = table.values[name]
    table.reject(bad & table.ok, lambda i: f"{name} = {float(x[i])!r} is outside the allowed range {rng}")


def _reject_crossed(table: Table, lo_name: str, hi_name: str, lo: np.ndarray, hi: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        crossed = table.ok & (lo > hi)
    table.reject(crossed, lambda i: f"{lo_name} = {float(lo[i])!r} > {hi_name} = {float(hi[i])!r}")


def reject_bad_constraints(table: Table) -> None:
    """Per-row checks of the constraint columns (an empty cell: no constraint; a ``nan`` cell
    was already refused by the parser); fills an empty ``min_damping_ratio`` with 0."""
    v = table.values
    with np.errstate(invalid="ignore"):
        for side in ("plus", "minus"):
            lo_name, hi_name = f"theta_{side}_min", f"theta_{side}_max"
            for name in (lo_name, hi_name):
                x = v[name]
                _reject_outside(table, name, ~np.isnan(x) & ~((x >= 0) & (x <= _HALF_PI)), "[0, pi/2]")
            lo = np.where(np.isnan(v[lo_name]), 0.0, v[lo_name])
            hi = np.where(np.isnan(v[hi_name]), _HALF_PI, v[hi_name])
            _reject_crossed(table, lo_name, hi_name, lo, hi)
        for name in ("C_plus_min", "C_plus_max"):
            x = v[name]
            _reject_outside(table, name, ~np.isnan(x) & ~(np.isfinite(x) & (x > 0)), "(0, inf)")
        lo, hi = _c_plus_bounds(v, np.arange(len(table)))
        _reject_crossed(table, "C_plus_min", "C_plus_max", lo, hi)
        r = v["min_damping_ratio"]
        _reject_outside(table, "min_damping_ratio", ~np.isnan(r) & ~((r >= 0) & (r < 1)), "[0, 1)")
    v["min_damping_ratio"] = np.where(np.isnan(r), 0.0, r)


def reject_bad_conditional(table: Table, default: bool) -> None:
    """Per-row checks of the conditional-scheme columns.  An empty ``conditional`` cell takes
    ``default`` (``--conditional``); an unconditional row may not set ``efficiency`` or a phase
    in its own cells (values that flags fill in are simply not used there); a conditional row's
    empty ``efficiency`` is 1."""
    v = table.values
    cond = np.asarray([default if c is None else bool(c) for c in v["conditional"]], dtype=bool)
    v["conditional"] = np.asarray(cond.tolist(), dtype=object)
    for name in ("efficiency", "lo_phase_min", "lo_phase_max"):
        x = v[name]
        if name in table.in_file:
            table.reject(
                table.ok & ~cond & ~np.isnan(x),
                lambda i, x=x, name=name: (
                    f"{name} = {float(x[i])!r} is a setting of the conditional scheme, "
                    "but conditional is false in this row"
                ),
            )
        x[~cond] = math.nan
    with np.errstate(invalid="ignore"):
        eta = v["efficiency"]
        _reject_outside(table, "efficiency", ~np.isnan(eta) & ~((eta >= 0) & (eta <= 1)), "[0, 1]")
        v["efficiency"] = np.where(cond & np.isnan(eta), 1.0, eta)
        for name in ("lo_phase_min", "lo_phase_max"):
            x = v[name]
            _reject_outside(table, name, ~np.isnan(x) & ~np.isfinite(x), "(-inf, inf) (a finite angle)")
        lo = np.where(np.isnan(v["lo_phase_min"]), _DEFAULT_LO_PHASE_RANGE[0], v["lo_phase_min"])
        hi = np.where(np.isnan(v["lo_phase_max"]), _DEFAULT_LO_PHASE_RANGE[1], v["lo_phase_max"])
        _reject_crossed(table, "lo_phase_min", "lo_phase_max", np.where(cond, lo, 0), np.where(cond, hi, 0))


def _c_plus_bounds(values, rows) -> tuple[np.ndarray, np.ndarray]:
    C = values["C_minus"][rows]
    lo, hi = values["C_plus_min"][rows], values["C_plus_max"][rows]
    lo = np.where(np.isnan(lo), C * _DEFAULT_C_PLUS_RATIO[0], lo)
    hi = np.where(np.isnan(hi), C * _DEFAULT_C_PLUS_RATIO[1], hi)
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Problems: grouping, options, feasibility
# ---------------------------------------------------------------------------------------------


def group_key(table: Table, i: int) -> tuple[str, str, bool]:
    """The choices of row ``i`` that select a compiled program -- ``(coupling, direction,
    conditional)``: rows with equal keys are solved by one :func:`steerjax.optimize` call."""
    v = table.values
    return (str(v["coupling"][i]), str(v["direction"][i]), bool(v["conditional"][i]))


def _pair(lo: np.ndarray, hi: np.ndarray, default: tuple[float, float]) -> np.ndarray:
    return np.stack([np.where(np.isnan(lo), default[0], lo), np.where(np.isnan(hi), default[1], hi)], -1)


def problem_options(table: Table, rows: np.ndarray, key: tuple) -> dict:
    """Keyword arguments of :class:`steerjax.Problem` for the given rows (one group).

    Constraints that no row of the group sets are left out, so that a job without constraints
    is exactly the library's default problem."""
    v = table.values
    coupling, direction, conditional = key
    options: dict = {"eps": v["eps"][rows], "coupling": coupling, "direction": direction}
    for side in ("plus", "minus"):
        lo, hi = v[f"theta_{side}_min"][rows], v[f"theta_{side}_max"][rows]
        if not (np.isnan(lo).all() and np.isnan(hi).all()):
            options[f"theta_{side}_bounds"] = _pair(lo, hi, (0.0, _HALF_PI))
    if not (np.isnan(v["C_plus_min"][rows]).all() and np.isnan(v["C_plus_max"][rows]).all()):
        options["C_plus_bounds"] = np.stack(_c_plus_bounds(v, rows), -1)
    rho = v["min_damping_ratio"][rows]
    if np.any(rho != 0):
        options["min_damping_ratio"] = rho
    if conditional:
        options["conditional"] = True
        options["efficiency"] = v["efficiency"][rows]
        lo, hi = v["lo_phase_min"][rows], v["lo_phase_max"][rows]
        if not (np.isnan(lo).all() and np.isnan(hi).all()):
            options["lo_phase_bounds"] = _pair(lo, hi, _DEFAULT_LO_PHASE_RANGE)
    return options


def build_problem(table: Table, rows: np.ndarray, key: tuple) -> sj.Problem:
    """The batched :class:`steerjax.Problem` of the given rows (raises the library's ValueError)."""
    v = table.values
    thermal = sj.Thermal(**{f: np.asarray(v[f][rows], dtype=np.float64) for f in THERMAL_FIELDS})
    C_minus = np.asarray(v["C_minus"][rows], dtype=np.float64)
    return sj.Problem(thermal, C_minus, **problem_options(table, rows, key))


def feasible_problem(table: Table, rows: np.ndarray, key: tuple) -> tuple[np.ndarray, sj.Problem | None]:
    """The group's Problem, after rejecting the rows whose constraints admit no stable design
    (:func:`steerjax.problem_feasibility`, with its reason in the row's own numbers)."""
    v = table.values
    thermal = sj.Thermal(**{f: np.asarray(v[f][rows], dtype=np.float64) for f in THERMAL_FIELDS})
    options = problem_options(table, rows, key)
    bounds = ("coupling", "theta_plus_bounds", "theta_minus_bounds", "C_plus_bounds", "min_damping_ratio")
    ok, reason = sj.problem_feasibility(
        thermal,
        np.asarray(v["C_minus"][rows], dtype=np.float64),
        **{k: options[k] for k in bounds if k in options},
    )
    for j in np.flatnonzero(~ok).tolist():
        table.reject([int(rows[j])], reason[j])
    keep = rows[ok]
    return keep, (build_problem(table, keep, key) if keep.size else None)


# ---------------------------------------------------------------------------------------------
# Solving
# ---------------------------------------------------------------------------------------------


def solve(table: Table, *, n_starts: int, seed: int, quiet: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Optimise every good row: one :func:`steerjax.optimize` call per :func:`group_key`
    group.  Returns the rows solved (table order) and their result columns."""
    rows = np.flatnonzero(table.ok)
    groups: dict[tuple, list[int]] = {}
    for i in rows.tolist():
        groups.setdefault(group_key(table, i), []).append(i)
    problems = []
    for key, idx in groups.items():
        idx, problem = feasible_problem(table, np.asarray(idx, dtype=np.int64), key)
        if problem is not None:
            problems.append((key, idx, problem))
    n = len(table)
    total = sum(idx.size for _, idx, _ in problems)
    full: dict[str, np.ndarray] = {}
    solved = np.zeros(n, dtype=bool)
    with Progress(total, label="optimising", quiet=quiet or total <= 1) as bar:
        for key, idx, problem in problems:
            bar.label = f"optimising ({key[0]}, {key[1]}{', conditional' if key[2] else ''})"
            bar.update(0)  # shows the bar while the group compiles
            offset = bar.count

            def progress(done: int, _total: int, offset=offset) -> None:
                bar.update(offset + done - bar.count)

            result = sj.optimize(problem, n_starts=n_starts, seed=seed, progress=progress)
            for name, column in result.columns().items():
                if name not in full:
                    full[name] = np.zeros(n, dtype=column.dtype)
                full[name][idx] = column
            solved[idx] = True
    rows = np.flatnonzero(solved)
    if rows.size == 0:
        return rows, {name: np.asarray([]) for name in ALL_RESULT_COLUMNS}
    return _reject_nonfinite(table, rows, {name: column[rows] for name, column in full.items()})


def _reject_nonfinite(table: Table, rows: np.ndarray, results: dict) -> tuple[np.ndarray, dict]:
    """Safety net: every solved row must have a finite E and design."""
    names = ("E", "E_plus_given_minus", "E_minus_given_plus", "theta_plus", "theta_minus", "C_plus")
    finite = np.all([np.isfinite(results[name]) for name in names], axis=0)
    for j in np.flatnonzero(~finite).tolist():
        shown = ", ".join(f"{name} = {float(results[name][j])!r}" for name in names)
        table.reject([rows[j]], f"no finite optimum ({shown})")
    return rows[finite], {k: col[finite] for k, col in results.items()}


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


_OPTIONAL_INPUT_COLUMNS = frozenset((*CONSTRAINT_COLUMNS, *CONDITIONAL_COLUMNS[1:]))
"""Job columns where "not given" is a state of its own (kept as NaN internally)."""


def _blank_where_nan(column: np.ndarray) -> np.ndarray:
    """A value that was not given is written as an empty cell, never as ``nan``, so that an
    output file read back as input means the same (``nan`` is not accepted as input)."""
    if column.dtype.kind != "f" or not np.isnan(column).any():
        return column
    return np.asarray(["" if math.isnan(x) else float(x) for x in column.tolist()], dtype=object)


def output_table(
    table: Table, rows: np.ndarray, filled: Sequence[str], results: dict, *, conditional: bool
) -> dict[str, np.ndarray]:
    """The output columns: the table's own columns (parameters as the values used, other
    columns as text), the job columns it lacks (``filled``), then the results (with
    :data:`CONDITIONAL_RESULT_COLUMNS` when ``conditional``)."""
    out: dict[str, np.ndarray] = {}
    for name in table.header:
        if name in ALL_RESULT_COLUMNS:
            continue  # a results file used as input: replaced below
        if name in table.in_file:
            column = table.values[name][rows]
            if column.dtype == object:
                column = np.asarray(["" if x is None else x for x in column], dtype=object)
        else:
            column = np.asarray(table.extra[name], dtype=object)[rows]
        if name in _OPTIONAL_INPUT_COLUMNS:
            column = _blank_where_nan(column)
        out[name] = column
    for name in filled:
        out[name] = table.values[name][rows]
    names = ALL_RESULT_COLUMNS if conditional else OUTPUT_RESULT_COLUMNS
    for name in names:
        if name in results:
            out[name] = results[name]
    return out


def _json_value(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def json_records(columns: dict[str, np.ndarray]) -> list[dict]:
    """Column table -> list of records (floats at full precision; NaN -> null)."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    return [{name: _json_value(columns[name][j]) for name in names} for j in range(n)]


def _g(x: float, digits: int, bounds=(0.0,)) -> str:
    """A table cell (:func:`~steerjax._cli._common.format_number`: no ``-0``, and never shown
    equal to a limit of its range, by default 0, that it differs from)."""
    return format_number(x, digits, bounds)


_E_LIMITS = (0.0, sj.STEERING_BOUND)


def format_table(args: argparse.Namespace, table: Table, rows: np.ndarray, results: dict) -> str:
    """The human-readable report of the flags' optima: a heading, then one table per
    :func:`group_key` group."""
    v = table.values
    t = {f: float(v[f][0]) for f in THERMAL_FIELDS}
    lines = [
        f"thermal ({describe_thermal_source(args)}): gamma_+,0/2pi = {_g(t['gamma0_plus_hz'], 10)} Hz, "
        f"nbar_+ = {_g(t['nbar_plus'], 10)}; gamma_-,0/2pi = {_g(t['gamma0_minus_hz'], 10)} Hz, "
        f"nbar_- = {_g(t['nbar_minus'], 10)}",
    ]
    constraints = [
        f"{flag} {getattr(args, dest)[0]!r} {getattr(args, dest)[1]!r}"
        for dest, (flag, _, _) in _BOUND_FLAGS.items()
        if getattr(args, dest) is not None
    ]
    if args.min_damping_ratio is not None:
        constraints.append(f"--min-damping-ratio {args.min_damping_ratio!r}")
    _, _, lo_phase = _conditional_flags(args)
    if lo_phase is not _UNSET and lo_phase is not None:
        constraints.append(f"--lo-phase {lo_phase!r}")
    lines.append(
        f"search: {args.starts} starts, seed {args.seed}"
        + (f"; constraints: {', '.join(constraints)}" if constraints else "")
    )
    order: dict[tuple, list[int]] = {}
    for j, i in enumerate(rows.tolist()):
        order.setdefault(group_key(table, i), []).append(j)
    for (coupling, direction, conditional), js in order.items():
        symbol, words = _DIRECTION_WORDS[direction]
        what = f"the conditional {symbol}" if conditional else symbol
        lines += ["", f"{coupling} coupling ({_COUPLING_WORDS[coupling]}), minimising {what} ({words})"]
        # (heading, cell of result j and table row i)
        columns = [
            ("C_-", lambda j, i: _g(float(v["C_minus"][i]), 8)),
            ("eps", lambda j, i: _g(float(v["eps"][i]), 4, (0.0, 1.0))),
        ]
        if conditional:
            columns.append(("eta", lambda j, i: _g(float(v["efficiency"][i]), 4, (0.0, 1.0))))
        columns += [
            ("E_+|-", lambda j, i: _g(results["E_plus_given_minus"][j], 10, _E_LIMITS)),
            ("E_-|+", lambda j, i: _g(results["E_minus_given_plus"][j], 10, _E_LIMITS)),
            ("theta_+/pi", lambda j, i: f"{results['theta_plus'][j] / math.pi:.8f}"),
            ("theta_-/pi", lambda j, i: f"{results['theta_minus'][j] / math.pi:.8f}"),
            ("C_+/C_-", lambda j, i: _g(results["C_plus_over_C_minus"][j], 6)),
        ]
        if conditional:
            uncond = "E_u_plus_given_minus" if direction == "plus-given-minus" else "E_u_minus_given_plus"
            columns += [
                ("LO/pi", lambda j, i: f"{results['lo_phase'][j] / math.pi:.8f}"),
                ("uncond. E", lambda j, i, u=uncond: _g(results[u][j], 10, _E_LIMITS)),
            ]
        columns += [
            ("converged", lambda j, i: "yes" if results["converged"][j] else "NO"),
            ("at edge", lambda j, i: "yes" if results["at_stability_edge"][j] else "no"),
        ]
        heads = [h + (" *" if h == symbol else "") for h, _ in columns]
        lines.append(format_columns(heads, ([cell(j, rows[j]) for _, cell in columns] for j in js)))
    lines += [
        "",
        "* minimised.  Steering when E < 1/2.  theta in units of pi.  at edge: the optimum is approached",
        "at an oscillator's stability edge (the design shown is stable).  Full precision: --json or --out.",
    ]
    if any(key[2] for key in order):
        lines += [
            "conditional: E given the homodyne record of the output light (efficiency eta, local-",
            "oscillator phase LO); uncond. E: the minimised direction's plain E at the same design.",
        ]
    return "\n".join(lines)


def _write(path: str, columns: dict[str, np.ndarray]) -> None:
    if path.lower().endswith(".json"):
        atomic_write_text(path, json.dumps(json_records(columns), indent=2) + "\n", parents=False)
    else:
        write_csv(path, columns, parents=False)


def _write_out(args, columns, n_written: int, n_total: int) -> int:
    if write_out_file(PROG, args.out, lambda path: _write(path, columns)):
        return 1
    note(PROG, f"wrote {n_written} of {n_total} optima to {args.out}", quiet=args.quiet)
    return 0


def _note_not_converged(results: dict, quiet: bool) -> None:
    k = int(np.count_nonzero(~np.asarray(results["converged"], dtype=bool)))
    if k:
        note(
            PROG,
            f"{k} of {len(results['converged'])} optima did not converge (the search stopped "
            "neither on the solver's own test nor with a projected gradient below the first-order "
            "tolerance relative to |E|; see converged and grad_norm); the best start is reported "
            "-- more --starts may help",
            quiet=quiet,
        )


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
    rows, results = solve(table, n_starts=args.starts, seed=args.seed, quiet=args.quiet)
    v = table.values
    for i in sorted(table.problems):
        coupling, direction, conditional = group_key(table, i)
        job = f"C_minus = {float(v['C_minus'][i])!r}, eps = {float(v['eps'][i])!r}"
        if conditional:
            job += f", efficiency = {float(v['efficiency'][i])!r}"
        error(PROG, f"{job} ({coupling}, {direction}): {'; '.join(table.problems[i])}")
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
    _check_conflicts(table, explicit)
    conditional, efficiency, lo_phase = _conditional_flags(args)
    if not conditional and "conditional" not in table.in_file and (efficiency or lo_phase is not _UNSET):
        flag = "--efficiency" if efficiency else "--lo-phase"
        raise UsageError(
            f"{flag} is a setting of the conditional scheme: add --conditional (or a conditional column)"
        )
    used = resolve_thermal(table, thermal_values_from_args(args))
    _note_batch_inputs(args, table, explicit, implicit, used)
    reject_out_of_domain(table, ("C_minus", "eps", *THERMAL_FIELDS))
    reject_bad_constraints(table)
    reject_bad_conditional(table, conditional)
    any_conditional = bool(np.any(table.values["conditional"].astype(bool)))
    rows, results = solve(table, n_starts=args.starts, seed=args.seed, quiet=args.quiet)
    for message in table.error_messages():
        print(message, file=sys.stderr)
    # The job columns the file lacks (always known: flags, defaults, presets); the conditional
    # ones if a job is conditional; constraint columns a flag gives.
    filled = [n for n in JOB_COLUMNS[1:] if n not in table.in_file]
    if any_conditional:
        filled += [n for n in ("conditional", "efficiency") if n not in table.in_file]
    filled += [
        n
        for n in (*CONDITIONAL_COLUMNS[2:], *CONSTRAINT_COLUMNS)
        if n not in table.in_file and n in explicit and (any_conditional or n in CONSTRAINT_COLUMNS)
    ]
    out = output_table(table, rows, filled, results, conditional=any_conditional)
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
