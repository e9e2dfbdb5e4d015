"""``steerjax optimize``: the results as a text table, CSV or JSON."""

from __future__ import annotations

import argparse

import numpy as np

from .._io import write_columns
from ..io._tables import Table
from ..optim._job_report import convergence_notes, optima_report
from ._messages import note
from ._optimize_columns import _BOUND_FLAGS, PROG, TOLERANCE_FLAGS
from ._optimize_jobs import _UNSET, _conditional_flags
from ._output import write_out_file
from ._thermal import describe_thermal_source

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
