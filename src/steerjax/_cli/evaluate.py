"""``steerjax evaluate``: steady-state steering of one design (flags) or many (a CSV file).

One design::

    steerjax evaluate --thermal hot --theta-plus 0.4pi --theta-minus 0.35pi --c-plus 100 --c-minus 50

prints the design, both Reid parameters with a verdict (steering when E < 1/2), the regime, the
net damping rates and f = 2R/gamma_+ (``--json``: one JSON object instead).  It calls
:func:`steerjax.steering` directly, so the numbers are exactly the library's, and an
out-of-domain or unstable design gets the library's error message (exit status 1).

Many designs::

    steerjax evaluate --from designs.csv --out results.csv [--thermal hot]

reads a CSV with the columns theta_plus, theta_minus, C_plus, C_minus, eps, gamma0_plus_hz,
nbar_plus, gamma0_minus_hz, nbar_minus, and optionally ``thermal`` (a preset name per row).  A
column the file lacks is taken from the command line: the design flags and the explicit thermal
flags give a constant column (they may not be given for a column that the file has: that would
be ambiguous), and ``eps`` defaults to 0.  Thermal values are resolved per row by
:func:`steerjax._cli._tables.resolve_thermal`: own column (non-empty cell) > explicit flag >
the row's ``thermal`` preset > ``--thermal``.  Every row is checked at once (numpy: cell
parsing, domain, then stability from :func:`steerjax.cascade_rates`); the good rows are
evaluated together by one jitted call of ``steerjax.steering(..., on_invalid="nan")`` (in chunks
of :data:`CHUNK_ROWS` rows for very large files, padded so that one compilation serves all
chunks), and written atomically with full float64 precision.  Each bad row is reported on
stderr as ``FILE:LINE: reason``; the exit status is then 1.

Conditional mode (``--conditional``; Sec. VI and Appendix B): the output light is measured by
homodyne detection with efficiency ``--efficiency`` (eta in [0, 1], default 1) at the
local-oscillator phase ``--lo-phase`` (radians, ``0.35pi`` style accepted, or ``optimal``, the
default), and the conditional Reid parameters E_c are evaluated as well
(:func:`steerjax.conditional_steering`: Reid's E of the stabilising solution of the filter's
Riccati equation, solved per design).  A batch file may instead have the columns ``lo_phase``
(radians, or ``optimal``; empty: optimal) and ``efficiency`` (empty: 1); a flag may not repeat a
column of the file, and without ``--conditional`` these flags and columns are usage errors (exit
status 2).  The columns :data:`CONDITIONAL_RESULT_COLUMNS` are added after
:data:`RESULT_COLUMNS`: the phase used for each direction, the efficiency, and E_c of each
direction; then :data:`CONDITIONAL_REGIME_COLUMN`, the regime of the two E_c.  For a fixed
phase both phase columns equal it.  For ``optimal`` the phase is optimised separately for each
direction: E_c is periodic in the phase with period pi, so it is evaluated on
:data:`LO_PHASE_GRID` equally spaced phases in [0, pi), then
:data:`LO_PHASE_POLISH_STEPS` golden-section steps refine the best grid point within its two
neighbours, keeping the best value found (the result is never worse than the best grid point);
the phases written are in [0, pi).  All rows with an optimised phase are evaluated by one jitted
call, and all rows with a fixed phase by another (chunks of :data:`CONDITIONAL_CHUNK_ROWS` rows,
padded to a multiple of :data:`CONDITIONAL_PAD_ROWS`, so that one compilation serves all
calls).  An out-of-range ``--efficiency`` is a bad value (exit status 1, as ``--eps``); a
``--lo-phase`` that is not a finite angle or ``optimal`` is a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

import numpy as np

import steerjax as sj

from .._io import csv_text, write_csv
from .._validation import compiled_nan
from ..model import _best_phase
from ._common import Progress
from ._messages import InputError, UsageError, command, note, print_stdout, wrap
from ._numbers import (
    ANGLE_FORMS,
    LO_PHASE_OPTIMAL,
    MISSING_RULE,
    angle_argument,
    format_number,
    parse_angle,
    parse_lo_phase,
    parse_number,
)
from ._output import check_out_file, write_out_file
from ._tables import (
    REQUIRED,
    THERMAL_PRESET_COLUMN,
    Column,
    Table,
    read_table,
    reject_out_of_domain,
    resolve_thermal,
    thermal_table_columns,
)
from ._thermal import (
    THERMAL_FIELDS,
    add_thermal_arguments,
    describe_thermal_source,
    thermal_from_args,
    thermal_values_from_args,
)

__all__ = [
    "register",
    "DESIGN_FIELDS",
    "INPUT_COLUMNS",
    "NUMERIC_RESULT_COLUMNS",
    "RESULT_COLUMNS",
    "CHUNK_ROWS",
    "CONDITIONAL_INPUT_COLUMNS",
    "CONDITIONAL_RESULT_COLUMNS",
    "CONDITIONAL_REGIME_COLUMN",
    "LO_PHASE_GRID",
    "LO_PHASE_POLISH_STEPS",
    "CONDITIONAL_CHUNK_ROWS",
    "CONDITIONAL_PAD_ROWS",
    "evaluate_conditional",
]

DESIGN_FIELDS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
"""Design parameters set by this command (phi is 0: the closed forms of the paper)."""

INPUT_COLUMNS = DESIGN_FIELDS + THERMAL_FIELDS
"""Parameter columns of a ``--from`` table, in the order used for columns the file lacks."""

NUMERIC_RESULT_COLUMNS = ("E_plus_given_minus", "E_minus_given_plus", "gamma_plus_hz", "gamma_minus_hz", "f")
"""Fields of :class:`steerjax.SteeringResult` written to each output row."""

RESULT_COLUMNS = (*NUMERIC_RESULT_COLUMNS, "regime")
"""Columns added to each output row (``regime`` is a name from :data:`steerjax.model.REGIMES`)."""

CHUNK_ROWS = 1 << 16
"""Largest number of rows evaluated by one call of the compiled function."""

CONDITIONAL_INPUT_COLUMNS = ("lo_phase", "efficiency")
"""Optional ``--from`` columns of the conditional scheme (only with ``--conditional``):
local-oscillator phase [rad] or ``optimal`` (empty: optimal), detection efficiency in [0, 1]
(empty: 1)."""

CONDITIONAL_RESULT_COLUMNS = (
    "lo_phase_plus_given_minus",
    "lo_phase_minus_given_plus",
    "efficiency",
    "E_c_plus_given_minus",
    "E_c_minus_given_plus",
)
"""Columns added after :data:`RESULT_COLUMNS` with ``--conditional``: the local-oscillator phase
[rad] used for E_c of each direction (the optimised one for ``optimal``, else the given phase),
the detection efficiency, and the conditional E_{+|-}, E_{-|+}."""

CONDITIONAL_REGIME_COLUMN = "regime_c"
"""Last column added with ``--conditional``: the regime (a name from :data:`steerjax.model.REGIMES`)
of the two conditional parameters E_c, as ``regime`` is of the unconditional ones."""

LO_PHASE_GRID = _best_phase.LO_PHASE_GRID
"""Number of equally spaced phases in [0, pi) on which ``--lo-phase optimal`` starts
(:func:`steerjax.model.conditional_steering_best_phase`)."""

LO_PHASE_POLISH_STEPS = _best_phase.LO_PHASE_POLISH_STEPS
"""Golden-section steps that refine the best grid phase (bracket shrinks by 0.618 per step)."""

CONDITIONAL_CHUNK_ROWS = 1 << 13
"""Largest number of rows evaluated by one call of a compiled conditional function."""

CONDITIONAL_PAD_ROWS = 8
"""Row counts of the conditional calls are padded to a multiple of this (fewer compilations)."""

DESIGN_FLAGS = {
    "theta_plus": "--theta-plus",
    "theta_minus": "--theta-minus",
    "C_plus": "--c-plus",
    "C_minus": "--c-minus",
    "eps": "--eps",
}

CONDITIONAL_FLAGS = {"lo_phase": "--lo-phase", "efficiency": "--efficiency"}

_EPILOG = f"""\
examples:
  steerjax evaluate --thermal hot --theta-plus 0.4pi --theta-minus 0.35pi --c-plus 100 --c-minus 50
  steerjax evaluate --thermal vacuum-server --theta-plus 0.4pi --theta-minus 0.35pi \\
      --c-plus 100 --c-minus 50 --eps 0.1 --json
  steerjax evaluate --from designs.csv --out results.csv --thermal hot
  steerjax evaluate --thermal hot --theta-plus 0.4149pi --theta-minus 0.25pi \\
      --c-plus 17.67 --c-minus 10 --conditional --efficiency 0.9
  steerjax evaluate --from designs.csv --out results.csv --thermal hot --conditional

batch input (--from FILE): a CSV file with a header row and the columns
  theta_plus, theta_minus   [rad]  numbers, or multiples of pi such as 0.35pi
  C_plus, C_minus           [1]    quantum cooperativities
  eps                       [1]    transmission loss; 0 when the column is absent
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
        type=_float_argument,
        help="quantum cooperativity of the server, C_+ = Gamma_+ / (gamma_+,0 (nbar_+ + 1/2)) "
        "[dimensionless], > 0",
    )
    design.add_argument(
        "--c-minus",
        dest="C_minus",
        metavar="C",
        type=_float_argument,
        help="quantum cooperativity of the client, C_- [dimensionless], > 0",
    )
    design.add_argument(
        "--eps",
        dest="eps",
        metavar="EPS",
        type=_float_argument,
        help="power transmission loss between the subsystems [dimensionless], in [0, 1); default 0",
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
        type=_float_argument,
        help="detection efficiency eta [dimensionless], in [0, 1] (0: no measurement, E_c = E); "
        "default 1; needs --conditional",
    )
    cond.add_argument(
        "--lo-phase",
        dest="lo_phase",
        metavar="PHASE",
        default=_UNSET,
        type=_lo_phase_argument,
        help="local-oscillator phase of the homodyne detection [rad] (0.35pi style accepted), or "
        "'optimal' (the default: optimised in [0, pi) for each direction separately); "
        "needs --conditional",
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


def _float_argument(text: str) -> float:
    try:
        return parse_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_UNSET = object()
"""Value of ``--lo-phase`` when the flag is not given (None means ``optimal``)."""


def _lo_phase_argument(text: str) -> float | None:
    """:func:`steerjax._cli._numbers.parse_lo_phase` as an argparse ``type=`` (status 2)."""
    try:
        return parse_lo_phase(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def conditional_settings(args: argparse.Namespace) -> tuple[bool, float | None, float | None]:
    """``(--conditional, lo_phase, efficiency)`` from the flags: ``lo_phase`` is None for
    ``optimal`` (also when not given), ``efficiency`` 1 when not given; both None without
    ``--conditional``.

    Raises:
        UsageError: ``--lo-phase`` or ``--efficiency`` without ``--conditional``.
        InputError: ``--efficiency`` outside [0, 1] (a bad value, like ``--eps``).
    """
    conditional = bool(getattr(args, "conditional", False))
    lo_phase = getattr(args, "lo_phase", _UNSET)
    efficiency = getattr(args, "efficiency", None)
    if not conditional:
        for flag, given in (("--lo-phase", lo_phase is not _UNSET), ("--efficiency", efficiency is not None)):
            if given:
                raise UsageError(f"{flag} is a setting of the conditional scheme: add --conditional")
        return False, None, None
    eta = 1.0 if efficiency is None else float(efficiency)
    if not (0.0 <= eta <= 1.0):
        raise InputError(f"efficiency = {eta!r} (--efficiency) is outside the allowed range [0, 1]")
    return True, (None if lo_phase is _UNSET else lo_phase), eta


def run(args: argparse.Namespace) -> int:
    """Body of the command (errors are turned into exit statuses by :func:`command`)."""
    conditional_settings(args)  # flag errors first, in both modes
    if args.from_file is not None:
        return run_batch(args)
    return run_single(args)


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
    )


def _as_float(x) -> float:
    return float(np.asarray(x))


def result_record(result: sj.SteeringResult) -> dict:
    """All fields of a scalar :class:`steerjax.SteeringResult` as floats, plus ``ratio``,
    ``regime`` (name), ``regime_code`` and the two verdicts."""
    rec = {f.name: _as_float(getattr(result, f.name)) for f in dataclasses.fields(result)}
    rec["ratio"] = _as_float(result.ratio)
    code = int(np.asarray(result.regime))
    rec["regime"] = sj.model.regime_name(code)
    rec["regime_code"] = code
    rec["steering_plus_given_minus"] = bool(rec["E_plus_given_minus"] < sj.STEERING_BOUND)
    rec["steering_minus_given_plus"] = bool(rec["E_minus_given_plus"] < sj.STEERING_BOUND)
    return rec


def _fmt_angle(theta: float) -> str:
    return f"{f'{theta!r} rad ({_num(theta / math.pi, 10, (0.0, 0.25, 0.5))} pi)':<42}"


def _num(x: float, digits: int = 10, bounds=(0.0,)) -> str:
    """A value for the text report (:func:`~steerjax._cli._numbers.format_number`: no ``-0``,
    and never shown equal to a limit of its range, by default 0, that it differs from)."""
    return format_number(x, digits, bounds)


def format_single(
    args, thermal: sj.Thermal, design: sj.Design, result: sj.SteeringResult, conditional: dict | None = None
) -> str:
    """The human-readable report of one design (``conditional``: the record of
    :func:`_conditional_record`, with ``--conditional``)."""
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
        f"thermal ({describe_thermal_source(args)})",
        f"  gamma_+,0/2pi = {_num(t['gamma0_plus_hz'])} Hz    nbar_+ = {_num(t['nbar_plus'])}",
        f"  gamma_-,0/2pi = {_num(t['gamma0_minus_hz'])} Hz    nbar_- = {_num(t['nbar_minus'])}",
        "steering (Reid: steering when E < 1/2)",
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
    return "\n".join(lines)


def _conditional_record(lo_phase: float | None, values: dict[str, np.ndarray]) -> dict:
    """One design's conditional results (from :func:`evaluate_conditional`) as a JSON-ready
    dict: the columns :data:`CONDITIONAL_RESULT_COLUMNS`, the requested ``lo_phase`` (a number
    or ``"optimal"``) and the verdicts."""
    rec = {name: float(values[name][0]) for name in CONDITIONAL_RESULT_COLUMNS}
    rec["lo_phase"] = LO_PHASE_OPTIMAL if lo_phase is None else float(lo_phase)
    rec[CONDITIONAL_REGIME_COLUMN] = str(
        _regime_names(values["E_c_plus_given_minus"][:1], values["E_c_minus_given_plus"][:1])[0]
    )
    for key in ("plus_given_minus", "minus_given_plus"):
        rec[f"steering_c_{key}"] = bool(rec[f"E_c_{key}"] < sj.STEERING_BOUND)
    return rec


def run_single(args: argparse.Namespace) -> int:
    if args.out is not None:
        raise UsageError(
            "--out is for --from FILE; for one design, redirect stdout (e.g. --json > result.json)"
        )
    conditional, lo_phase, efficiency = conditional_settings(args)
    design = _design_from_args(args)
    thermal = thermal_from_args(args)
    try:
        result = sj.steering(thermal, design)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    fields = [f.name for f in dataclasses.fields(result)]
    values = {name: _as_float(getattr(result, name)) for name in fields}
    cond = None
    if conditional and all(math.isfinite(v) for v in values.values()):
        params = {n: np.asarray([_as_float(getattr(design, n))]) for n in DESIGN_FIELDS}
        params |= {n: np.asarray([_as_float(getattr(thermal, n))]) for n in THERMAL_FIELDS}
        params["lo_phase"] = np.asarray([math.nan if lo_phase is None else lo_phase])
        params["efficiency"] = np.asarray([efficiency])
        cond = _conditional_record(lo_phase, evaluate_conditional(params, np.asarray([0]), quiet=True))
        values |= {n: cond[n] for n in CONDITIONAL_RESULT_COLUMNS}
    if not all(math.isfinite(v) for v in values.values()):
        raise InputError(
            "no finite result ("
            + ", ".join(f"{k} = {v!r}" for k, v in values.items() if not math.isfinite(v))
            + "): the design is at the stability edge to within rounding, or beyond the float64 range"
        )
    if args.json:
        record = {
            "design": {n: _as_float(getattr(design, n)) for n in DESIGN_FIELDS},
            "thermal": {
                "preset": args.thermal,
                **{n: _as_float(getattr(thermal, n)) for n in THERMAL_FIELDS},
            },
            "result": result_record(result),
            "steering_bound": sj.STEERING_BOUND,
            "steerjax_version": sj.__version__,
        }
        if cond is not None:
            record["conditional"] = {"lo_phase": cond["lo_phase"], "efficiency": efficiency}
            record["result"] |= {k: v for k, v in cond.items() if k != "lo_phase"}
        print_stdout(json.dumps(record, indent=2))
    else:
        print_stdout(format_single(args, thermal, design, result, cond))
    return 0


# ---------------------------------------------------------------------------------------------
# Many designs
# ---------------------------------------------------------------------------------------------


_steering_batch = compiled_nan(sj.steering)
"""The one compiled function that evaluates a batch (invalid rows give NaN)."""

_conditional_fixed_batch = compiled_nan(sj.conditional_steering)
"""The compiled function for rows with a given local-oscillator phase."""

_conditional_optimal_batch = compiled_nan(sj.model.conditional_steering_best_phase)
"""The compiled function for rows whose local-oscillator phase is optimised."""


def evaluate_conditional(values: dict[str, np.ndarray], rows: np.ndarray, *, quiet: bool = False):
    """Conditional results of the given rows: the columns :data:`CONDITIONAL_RESULT_COLUMNS`
    as float64 arrays.  ``values`` maps the names of :data:`INPUT_COLUMNS` and
    :data:`CONDITIONAL_INPUT_COLUMNS` to per-row arrays (``lo_phase`` NaN: optimal; the
    efficiency must be given, in [0, 1]).  The rows with a fixed phase are evaluated by one
    call of :data:`_conditional_fixed_batch`, those with ``optimal`` by one call of
    :data:`_conditional_optimal_batch` (more than :data:`CONDITIONAL_CHUNK_ROWS` rows: chunks
    of that size; each call padded with copies of its first row to a multiple of
    :data:`CONDITIONAL_PAD_ROWS`)."""
    n = rows.size
    out = {name: np.full(n, np.nan) for name in CONDITIONAL_RESULT_COLUMNS}
    out["efficiency"] = np.asarray(values["efficiency"][rows], dtype=np.float64)
    optimal = np.isnan(np.asarray(values["lo_phase"][rows], dtype=np.float64))
    groups = [(np.flatnonzero(~optimal), False), (np.flatnonzero(optimal), True)]
    plans = []
    for where, is_optimal in groups:
        if where.size == 0:
            continue
        pad = CONDITIONAL_PAD_ROWS
        chunk = min(-(-where.size // pad) * pad, CONDITIONAL_CHUNK_ROWS)
        plans += [(where[start : start + chunk], chunk, is_optimal) for start in range(0, where.size, chunk)]
    label = "evaluating conditional chunks"
    with Progress(len(plans), label=label, quiet=quiet or len(plans) <= 1) as bar:
        for where, chunk, is_optimal in plans:
            idx = rows[where]
            if idx.size < chunk:
                idx = np.concatenate([idx, np.full(chunk - idx.size, idx[0])])
            thermal, design = _batch_parameters(values, idx)
            eta = np.asarray(values["efficiency"][idx], dtype=np.float64)
            if is_optimal:
                best = _conditional_optimal_batch(thermal, design, eta)
                phases = (best.lo_phase_plus_given_minus, best.lo_phase_minus_given_plus)
            else:
                psi = np.asarray(values["lo_phase"][idx], dtype=np.float64)
                best = _conditional_fixed_batch(thermal, design, psi, eta)
                phases = (psi, psi)
            m = where.size
            names = ("lo_phase_plus_given_minus", "lo_phase_minus_given_plus")
            names += ("E_c_plus_given_minus", "E_c_minus_given_plus")
            result = (*phases, best.E_plus_given_minus, best.E_minus_given_plus)
            for name, column in zip(names, result, strict=True):
                out[name][where] = np.asarray(column, dtype=np.float64)[:m]
            bar.update()
    return out


def _columns_spec(args: argparse.Namespace) -> tuple[list[Column], dict[str, str], dict[str, str]]:
    """Column specs for the table, and the origins of the values flags give:
    ``(columns, explicit, implicit)``; ``explicit`` maps a column to the flag that sets it,
    ``implicit`` to the preset or default that fills it only when the file lacks it."""
    explicit: dict[str, str] = {}
    implicit: dict[str, str] = {}
    defaults: dict[str, float] = {}
    for name in DESIGN_FIELDS:
        value = getattr(args, name)
        if value is not None:
            defaults[name], explicit[name] = float(value), DESIGN_FLAGS[name]
    if "eps" not in defaults:
        defaults["eps"], implicit["eps"] = 0.0, "default"
    for name, (_, origin) in thermal_values_from_args(args).items():
        (implicit if origin.startswith("--thermal") else explicit)[name] = origin
    conditional, lo_phase, efficiency = conditional_settings(args)
    if conditional:
        for name in CONDITIONAL_INPUT_COLUMNS:
            flag = CONDITIONAL_FLAGS[name]
            given = getattr(args, name) is not (_UNSET if name == "lo_phase" else None)
            (explicit if given else implicit)[name] = flag if given else "default"
    columns = []
    for name in DESIGN_FIELDS:
        parse = parse_angle if name.startswith("theta") else parse_number
        hint = f"or give {DESIGN_FLAGS[name]}"
        columns.append(Column(name, parse=parse, default=defaults.get(name, REQUIRED), hint=hint))
    columns += thermal_table_columns()  # resolved row by row with resolve_thermal
    # phi is recognised (so that a phi column is not silently ignored) but must be 0.
    columns.append(Column("phi", parse=parse_angle, default=0.0))
    # The conditional settings are recognised in every mode (without --conditional they are an
    # error, not copied as text); empty cells: lo_phase optimal (NaN), efficiency 1.
    lo_default = math.nan if lo_phase is None else lo_phase
    columns.append(Column("lo_phase", parse=_lo_phase_cell, default=lo_default, allow_empty=True))
    columns.append(Column("efficiency", default=1.0 if efficiency is None else efficiency, allow_empty=True))
    return columns, explicit, implicit


def _lo_phase_cell(text: str) -> float:
    """A ``lo_phase`` cell: a finite angle [rad], or ``optimal`` -> NaN."""
    value = parse_lo_phase(text)
    return math.nan if value is None else value


def _lo_phase_text(values: np.ndarray) -> np.ndarray:
    """``lo_phase`` values for output: the angle, or ``optimal`` for NaN."""
    return np.asarray([LO_PHASE_OPTIMAL if math.isnan(v) else v for v in values.tolist()], dtype=object)


def _batch_parameters(values: dict[str, np.ndarray], rows: np.ndarray) -> tuple[sj.Thermal, sj.Design]:
    thermal = sj.Thermal(**{n: np.asarray(values[n][rows], dtype=np.float64) for n in THERMAL_FIELDS})
    design = sj.Design(**{n: np.asarray(values[n][rows], dtype=np.float64) for n in DESIGN_FIELDS})
    return thermal, design


def reject_unstable(table: Table) -> None:
    """Vectorised stability check (gamma_+ > 0 and gamma_- > 0 from
    :func:`steerjax.cascade_rates`) of the rows that are still good."""
    rows = np.flatnonzero(table.ok)
    if rows.size == 0:
        return
    for j, reason in sj.model.unstable_entries(*_batch_parameters(table.values, rows)):
        table.reject([int(rows[j])], reason)


def evaluate_rows(table: Table, rows: np.ndarray, *, quiet: bool = False) -> dict[str, np.ndarray]:
    """Evaluate the given rows with the compiled batch function; returns result columns
    (numpy float64 arrays, ``regime`` as names).  More than :data:`CHUNK_ROWS` rows are cut
    into chunks of that size, the last one padded with copies of its first row, so that every
    call has the same shape (one compilation)."""
    n = rows.size
    fields = NUMERIC_RESULT_COLUMNS
    out = {name: np.empty(n, dtype=np.float64) for name in fields}
    if n == 0:
        out["regime"] = np.asarray([], dtype=object)
        return out
    chunk = min(n, CHUNK_ROWS)
    starts = range(0, n, chunk)
    with Progress(len(starts), label="evaluating chunks", quiet=quiet or len(starts) == 1) as bar:
        for start in starts:
            idx = rows[start : start + chunk]
            if idx.size < chunk:
                idx = np.concatenate([idx, np.full(chunk - idx.size, idx[0])])
            result = _steering_batch(*_batch_parameters(table.values, idx))
            m = min(chunk, n - start)
            for name in fields:
                out[name][start : start + m] = np.asarray(getattr(result, name), dtype=np.float64)[:m]
            bar.update()
    out["regime"] = _regime_names(out["E_plus_given_minus"], out["E_minus_given_plus"])
    return out


def _regime_names(e_pm: np.ndarray, e_mp: np.ndarray) -> np.ndarray:
    """Regime names (:data:`steerjax.model.REGIMES`; ``invalid`` for NaN) of pairs of E values."""
    codes = np.asarray(sj.classify(np.asarray(e_pm), np.asarray(e_mp)))
    names = np.asarray((*sj.model.REGIMES, "invalid"), dtype=object)
    return names[codes]  # code -1 (NaN) indexes "invalid"


def _note_filled_columns(prog: str, table: Table, filled: list[str], origin: dict[str, str], *, quiet: bool):
    """Say where the values of the columns that the file lacks come from."""
    groups: dict[str, list[str]] = {}
    for name in filled:
        values = table.values[name]
        if name in THERMAL_FIELDS and THERMAL_PRESET_COLUMN in table.in_file:
            src = f"the {THERMAL_PRESET_COLUMN} column" + (f", else {origin[name]}" if name in origin else "")
            groups.setdefault(src, []).append(name)
        else:
            groups.setdefault(origin[name], []).append(f"{name} = {float(values[0])!r}")
    note(
        prog,
        f"columns not in {table.source}, taken from the command line: "
        + "; ".join(f"{', '.join(items)} ({src})" for src, items in groups.items()),
        quiet=quiet,
    )


def _check_conflicts(table: Table, explicit: dict[str, str]) -> None:
    names = (*INPUT_COLUMNS, *CONDITIONAL_INPUT_COLUMNS)
    both = [name for name in names if name in explicit and name in table.in_file]
    if both:
        raise UsageError(
            "; ".join(
                f"{name} is a column of {table.source} and also given as {explicit[name]}" for name in both
            )
            + " -- remove the flag or the column"
        )


def check_conditional_columns(table: Table, conditional: bool) -> None:
    """Without ``--conditional`` the file may not have the columns
    :data:`CONDITIONAL_INPUT_COLUMNS` (a usage error, as the flags)."""
    present = [name for name in CONDITIONAL_INPUT_COLUMNS if name in table.in_file]
    if present and not conditional:
        raise UsageError(
            f"column{'s' if len(present) > 1 else ''} {', '.join(present)} of {table.source} "
            f"{'are settings' if len(present) > 1 else 'is a setting'} of the conditional scheme: "
            "add --conditional (or remove the column)"
        )


def reject_bad_conditional(table: Table) -> None:
    """Conditional rows: an empty ``efficiency`` cell is 1 (an empty ``lo_phase`` cell is
    already NaN, i.e. optimal); an efficiency outside [0, 1] rejects the row."""
    eta = table.values["efficiency"]
    if "efficiency" in table.empty:
        eta = np.where(table.empty["efficiency"], 1.0, eta)
        table.values["efficiency"] = eta
    table.reject(
        table.ok & ~((eta >= 0) & (eta <= 1)),
        lambda i: f"efficiency = {float(eta[i])!r} is outside the allowed range [0, 1]",
    )


def _note_conditional(prog: str, args: argparse.Namespace, table: Table, origin: dict[str, str]) -> None:
    parts = []
    for name in CONDITIONAL_INPUT_COLUMNS:
        if name not in table.in_file:
            value = float(table.values[name][0])
            text = LO_PHASE_OPTIMAL if math.isnan(value) else repr(value)
            parts.append(f"{name} = {text} ({origin[name]})")
    if parts:
        note(
            prog,
            f"conditional settings not in {table.source}, taken from the command line: " + "; ".join(parts),
            quiet=args.quiet,
        )


def _note_inputs(
    prog: str, args: argparse.Namespace, table: Table, filled, origin, used, result_columns=RESULT_COLUMNS
) -> None:
    """Notes on stderr (unless --quiet) about values that did not come from the file."""
    if not len(table):
        return
    if filled:
        _note_filled_columns(prog, table, filled, origin, quiet=args.quiet)
    if args.conditional:
        _note_conditional(prog, args, table, origin)
    if args.thermal is not None and not used.get(f"--thermal {args.thermal}"):
        note(
            prog,
            f"--thermal {args.thermal} is not used: {table.source} gives every thermal value",
            quiet=args.quiet,
        )
    for name in table.extra:
        if name in result_columns:
            message = f"column {name!r} of {table.source} is replaced by this run's results"
        else:
            message = f"column {name!r} is not a parameter; it is copied to the output unchanged"
        note(prog, message, quiet=args.quiet)


def reject_nonzero_phi(table: Table) -> None:
    """Rows with phi != 0 (the closed forms hold at phi = 0 only)."""
    phi = table.values["phi"]
    table.reject(
        table.ok & (phi != 0),
        lambda i: (
            f"phi = {float(phi[i])!r}: the closed forms (Eqs. 4-10) hold at phi = 0 only "
            "(steerjax.covariance handles phi != 0)"
        ),
    )


def reject_nonfinite(
    table: Table, rows: np.ndarray, results: dict, names=NUMERIC_RESULT_COLUMNS
) -> tuple[np.ndarray, dict]:
    """Safety net: a row that passed the checks must have finite results (the columns
    ``names``); others are rejected and removed.  Returns the kept rows and their results."""
    finite = np.all([np.isfinite(results[name]) for name in names], axis=0)
    if finite.all():
        return rows, results
    for j in np.flatnonzero(~finite).tolist():
        values = ", ".join(f"{name} = {float(results[name][j])!r}" for name in names)
        table.reject(
            [rows[j]],
            f"no finite result ({values}): the design is at the stability edge to within rounding, "
            "or beyond the float64 range",
        )
    return rows[finite], {k: v[finite] for k, v in results.items()}


def output_columns(
    table: Table, rows: np.ndarray, filled, results: dict, result_columns=RESULT_COLUMNS
) -> dict[str, np.ndarray]:
    """The output table: the file's columns (parameters as the floats used, ``lo_phase`` as
    the angle or ``optimal``, other columns as text), the parameter columns the file lacks,
    then the results (a result column that the file has, e.g. ``efficiency``, keeps its
    place)."""
    out: dict[str, np.ndarray] = {}
    for name in table.header:
        if name in table.in_file:
            column = table.values[name][rows]
            if column.dtype == object:  # e.g. the thermal column: empty cells stay empty
                column = np.asarray(["" if v is None else v for v in column], dtype=object)
            elif name == "lo_phase":
                column = _lo_phase_text(column)
        else:
            column = np.asarray(table.extra[name], dtype=object)[rows]
        out[name] = column
    for name in filled:
        out[name] = table.values[name][rows]
    for name in result_columns:  # a result column of the input (a re-run) is replaced
        out[name] = results[name]
    return out


def run_batch(args: argparse.Namespace) -> int:
    prog = "steerjax evaluate"
    if args.json:
        raise UsageError("--json is for one design; with --from the results are a CSV file")
    check_out_file(args.out)
    conditional = bool(args.conditional)
    columns, explicit, implicit = _columns_spec(args)
    table = read_table(args.from_file, columns)
    check_conditional_columns(table, conditional)
    _check_conflicts(table, explicit)
    used = resolve_thermal(table, thermal_values_from_args(args))
    filled = [name for name in INPUT_COLUMNS if name not in table.in_file]
    result_columns = RESULT_COLUMNS
    if conditional:
        result_columns = (*RESULT_COLUMNS, *CONDITIONAL_RESULT_COLUMNS, CONDITIONAL_REGIME_COLUMN)
    _note_inputs(prog, args, table, filled, {**implicit, **explicit}, used, result_columns)

    reject_out_of_domain(table, INPUT_COLUMNS)
    reject_nonzero_phi(table)
    if conditional:
        reject_bad_conditional(table)
    reject_unstable(table)
    rows = np.flatnonzero(table.ok)
    results = evaluate_rows(table, rows, quiet=args.quiet)
    numeric = NUMERIC_RESULT_COLUMNS
    if conditional:
        results |= evaluate_conditional(table.values, rows, quiet=args.quiet)
        numeric = (*NUMERIC_RESULT_COLUMNS, *CONDITIONAL_RESULT_COLUMNS)
    rows, results = reject_nonfinite(table, rows, results, numeric)
    if conditional:
        results[CONDITIONAL_REGIME_COLUMN] = _regime_names(
            results["E_c_plus_given_minus"], results["E_c_minus_given_plus"]
        )
    for message in table.error_messages():
        print(message, file=sys.stderr)

    out_columns = output_columns(table, rows, filled, results, result_columns)
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
