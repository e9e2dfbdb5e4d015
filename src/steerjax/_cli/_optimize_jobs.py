"""``steerjax optimize``: the job table, from flags or a job file, with every bad row reported, and
the results as a text table, CSV or JSON."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

import steerjax as sj

from .._io import write_columns
from .._validation import domain_problem
from ..io._tables import THERMAL_FIELDS, Column, Table
from ..io._text import parse_integer, parse_number
from ..optim._job_columns import (
    _DEFAULTS,
    _HALF_PI,
    ALL_RESULT_COLUMNS,
    CONDITIONAL_COLUMNS,
    CONSTRAINT_COLUMNS,
    TOLERANCE_RANGES,
    TOLERANCE_RESULT_COLUMNS,
    job_file_columns,
    product_jobs,
)
from ..optim._job_report import convergence_notes, optima_report
from ._messages import InputError, UsageError, note, note_file_inputs, write_out_file
from ._numbers import _UNSET
from ._thermal import describe_thermal_source, thermal_from_args, thermal_values_from_args

PROG = "steerjax optimize"

TOLERANCE_FLAGS = {
    # column: (flag, dest)
    "phase_tolerance": ("--phase-tolerance", "phase_tolerance"),
    "theta_tolerance": ("--theta-tolerance", "theta_tolerance"),
    "c_tolerance": ("--c-tolerance", "C_tolerance"),
    "max_settling_time_s": ("--max-settling-time", "max_settling_time"),
    "max_other_E": ("--max-other-e", "max_other_E"),
    "min_other_E": ("--min-other-e", "min_other_E"),
    "omega_hz": ("--omega-hz", "omega_hz"),
}
"""The one-value constraint flags: tolerances, settling time, bounds on the other direction's E
and the oscillator frequency (``--eps-range LO HI`` fills ``eps_range_min/max``, ``--phi-bounds
LO HI`` ``phi_min/max``)."""

_BOUND_FLAGS = {
    # flag dest: (flag, low column, high column)
    "theta_plus_bounds": ("--theta-plus-bounds", "theta_plus_min", "theta_plus_max"),
    "theta_minus_bounds": ("--theta-minus-bounds", "theta_minus_min", "theta_minus_max"),
    "C_plus_bounds": ("--c-plus-bounds", "C_plus_min", "C_plus_max"),
    "phi_bounds": ("--phi-bounds", "phi_min", "phi_max"),
}

_JOB_FLAGS = {
    "C_minus": "--c-minus",
    "eps": "--eps",
    "coupling": "--coupling",
    "direction": "--direction",
    "efficiency": "--efficiency",
}

MAX_STARTS = 1_000_000
"""Largest ``--starts`` (each start is a search; a million per optimum is far past any use)."""

MAX_GRID_POINTS = 10_000_000
"""Largest N of ``--c-minus-grid`` (ten million optima; the results are held in memory)."""

MAX_SEED = 2**63 - 1
"""Largest ``--seed`` (jax.random.PRNGKey takes a signed 64-bit integer)."""


# ---------------------------------------------------------------------------------------------
# Flags -> values
# ---------------------------------------------------------------------------------------------


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
    if not 1 <= n <= MAX_GRID_POINTS:
        raise UsageError(f"{flag}: N = {n} is outside the allowed range [1, {MAX_GRID_POINTS}]")
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
        elif dest.startswith("phi"):
            ok, rng = -_HALF_PI <= lo <= hi <= _HALF_PI, "-pi/2 <= LO <= HI <= pi/2"
        else:
            ok, rng = 0.0 < lo <= hi < math.inf, "0 < LO <= HI < inf"
        if not ok:
            raise UsageError(f"{flag}: LO = {lo!r}, HI = {hi!r} is outside the allowed range {rng}")
    r = args.min_damping_ratio
    if r is not None and not (0.0 <= r < 1.0):
        raise UsageError(f"--min-damping-ratio: R = {r!r} is outside the allowed range [0, 1)")
    for column, (flag, dest) in TOLERANCE_FLAGS.items():
        x = getattr(args, dest, None)
        rng, inside = TOLERANCE_RANGES[column]
        if x is not None and not inside(x):
            raise UsageError(f"{flag}: {x!r} is outside the allowed range {rng}")
    pair = getattr(args, "eps_range", None)
    if pair is not None and not (0.0 <= pair[0] <= pair[1] < 1.0):
        raise UsageError(
            f"--eps-range: LO = {pair[0]!r}, HI = {pair[1]!r} is outside the allowed range 0 <= LO <= HI < 1"
        )
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
    for column, (flag, dest) in TOLERANCE_FLAGS.items():
        if getattr(args, dest, None) is not None:
            out[column] = (float(getattr(args, dest)), flag)
    if getattr(args, "eps_range", None) is not None:
        out["eps_range_min"] = (float(args.eps_range[0]), "--eps-range")
        out["eps_range_max"] = (float(args.eps_range[1]), "--eps-range")
    _, _, lo_phase = _conditional_flags(args)
    if lo_phase is not _UNSET:
        value = math.nan if lo_phase is None else float(lo_phase)
        out["lo_phase_min"] = out["lo_phase_max"] = (value, "--lo-phase")
    return out


def _check_flag_domain(name: str, flag: str, values: Sequence[float]) -> None:
    """InputError (status 1, like ``evaluate``) naming the parameter, the flag, the bad values
    and the allowed range."""
    problem = domain_problem(name, values, flag)
    if problem is not None:
        raise InputError(problem)


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
    constraints = {name: value for name, (value, _) in _constraint_flag_values(args).items()}
    return product_jobs(
        thermal,
        C,
        eps,
        couplings=args.coupling or [_DEFAULTS["coupling"]],
        directions=args.direction or [_DEFAULTS["direction"]],
        efficiencies=(efficiency or [1.0]) if conditional else None,
        constraints=constraints,
        preset=args.thermal or "",
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

    values = {name: value for name, value in given.items() if value is not None}
    values |= {name: value for name, (value, _) in constraints.items()}
    columns = job_file_columns(
        values, conditional=conditional, C_minus_hint="or give one value with --c-minus"
    )
    return columns, explicit, implicit


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
    note_file_inputs(PROG, args, table, used, (*ALL_RESULT_COLUMNS, *TOLERANCE_RESULT_COLUMNS))


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def format_table(args: argparse.Namespace, table: Table, rows: np.ndarray, results: dict) -> str:
    """The human-readable report of the flags' optima: a heading, then one table per group of
    jobs (:func:`steerjax.optim._job_report.optima_report`)."""
    constraints = [
        f"{flag} {getattr(args, dest)[0]!r} {getattr(args, dest)[1]!r}"
        for dest, (flag, _, _) in _BOUND_FLAGS.items()
        if getattr(args, dest) is not None
    ]
    if args.min_damping_ratio is not None:
        constraints.append(f"--min-damping-ratio {args.min_damping_ratio!r}")
    for flag, dest in TOLERANCE_FLAGS.values():
        if getattr(args, dest, None) is not None:
            constraints.append(f"{flag} {getattr(args, dest)!r}")
    if getattr(args, "eps_range", None) is not None:
        constraints.append(f"--eps-range {args.eps_range[0]!r} {args.eps_range[1]!r}")
    _, _, lo_phase = _conditional_flags(args)
    if lo_phase is not _UNSET and lo_phase is not None:
        constraints.append(f"--lo-phase {lo_phase!r}")
    search = f"search: {args.starts} starts, seed {args.seed}" + (
        f"; constraints: {', '.join(constraints)}" if constraints else ""
    )
    return optima_report(table, rows, results, thermal_source=describe_thermal_source(args), search=search)


def _write_out(args, columns, n_written: int, n_total: int) -> int:
    if write_out_file(PROG, args.out, lambda path: write_columns(path, columns, parents=False)):
        return 1
    note(PROG, f"wrote {n_written} of {n_total} optima to {args.out}", quiet=args.quiet)
    return 0


def _note_not_converged(results: dict, quiet: bool) -> None:
    for message in convergence_notes(results):
        note(PROG, message, quiet=quiet)
