"""``steerjax evaluate --from FILE``: every good row evaluated in a few compiled calls, every bad
row reported."""

from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np

import steerjax as sj

from .._validation import compiled_nan
from ._common import Progress
from ._evaluate_columns import (
    _UNSET,
    CHUNK_ROWS,
    CONDITIONAL_CHUNK_ROWS,
    CONDITIONAL_FLAGS,
    CONDITIONAL_INPUT_COLUMNS,
    CONDITIONAL_PAD_ROWS,
    CONDITIONAL_RESULT_COLUMNS,
    DESIGN_FIELDS,
    DESIGN_FLAGS,
    GRADIENT_COLUMNS,
    INPUT_COLUMNS,
    LAB_RESULT_COLUMNS,
    MARGIN_COLUMNS,
    NUMERIC_RESULT_COLUMNS,
    OMEGA_COLUMN,
    OMEGA_FLAG,
    PHI_COLUMN,
    PHI_FLAG,
    RESULT_COLUMNS,
    SENSITIVITY_CHUNK_ROWS,
    SENSITIVITY_PAD_ROWS,
    SENSITIVITY_RESULT_COLUMNS,
    conditional_settings,
)
from ._messages import UsageError, note
from ._numbers import (
    LO_PHASE_OPTIMAL,
    parse_angle,
    parse_lo_phase,
    parse_number,
)
from ._tables import (
    REQUIRED,
    THERMAL_PRESET_COLUMN,
    Column,
    Table,
    thermal_table_columns,
)
from ._thermal import (
    THERMAL_FIELDS,
    thermal_values_from_args,
)

# ---------------------------------------------------------------------------------------------
# Many designs
# ---------------------------------------------------------------------------------------------


_steering_batch = compiled_nan(sj.steering)
"""The one compiled function that evaluates a batch (invalid rows give NaN)."""

_steering_at_phase_batch = compiled_nan(sj.model.steering_result_at_phase)
"""The compiled function for rows with phi != 0 (Gaussian engine; invalid rows give NaN)."""

_lab_frame_batch = compiled_nan(sj.lab_frame_steering)
"""The compiled function for rows with an oscillator frequency (lab-frame model)."""

_lab_frame_covariance_batch = compiled_nan(sj.model.lab_frame_covariance)
"""The compiled carrier-frame covariance of the lab-frame model (one design: its moments)."""


def lab_frame_single(thermal: sj.Thermal, design: sj.Design, omega: float):
    """``(LabFrameSteering, covariance)`` of one checked design by the compiled batch functions
    (the design repeated to :data:`CONDITIONAL_PAD_ROWS` rows: the program of a small batch)."""
    n = CONDITIONAL_PAD_ROWS

    def repeated(module):
        return type(module)(
            **{f.name: np.full(n, float(getattr(module, f.name))) for f in dataclasses.fields(module)}
        )

    th, d, om = repeated(thermal), repeated(design), np.full(n, float(omega))
    lab = _lab_frame_batch(th, d, om)
    first = type(lab)(**{f.name: np.asarray(getattr(lab, f.name))[0] for f in dataclasses.fields(lab)})
    return first, np.asarray(_lab_frame_covariance_batch(th, d, om))[0]


_sensitivity_batch = compiled_nan(sj.design_sensitivity)
"""The compiled function of ``--margins``."""

_conditional_fixed_batch = compiled_nan(sj.conditional_steering)
"""The compiled function for rows with a given local-oscillator phase."""

_conditional_optimal_batch = compiled_nan(sj.model.conditional_steering_best_phase)
"""The compiled function for rows whose local-oscillator phase is optimised."""


def evaluate_conditional(values: dict[str, np.ndarray], rows: np.ndarray, *, quiet: bool = False):
    """Conditional results of the given rows: the columns :data:`CONDITIONAL_RESULT_COLUMNS`
    as float64 arrays.  ``values`` maps the names of :data:`INPUT_COLUMNS` and
    :data:`CONDITIONAL_INPUT_COLUMNS` (and optionally :data:`PHI_COLUMN`) to per-row arrays
    (``lo_phase`` NaN: optimal; the efficiency must be given, in [0, 1]; phi must be 0 in the
    rows with ``optimal``, whose search :func:`steerjax.model.conditional_steering_best_phase`
    is at phi = 0 only).  The rows with a fixed phase are evaluated by one
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
            thermal, design = _batch_parameters(values, idx, with_phi=not is_optimal)
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
    # phi: any finite angle; rows with phi != 0 go to the Gaussian engine.
    phi = getattr(args, "phi", None)
    if phi is not None:
        explicit[PHI_COLUMN] = PHI_FLAG
    columns.append(Column(PHI_COLUMN, parse=parse_angle, default=0.0 if phi is None else float(phi)))
    # omega_hz: empty (NaN) means the paper's model for that row
    omega = getattr(args, "omega_hz", None)
    if omega is not None:
        explicit[OMEGA_COLUMN] = OMEGA_FLAG
    omega_default = math.nan if omega is None else float(omega)
    columns.append(Column(OMEGA_COLUMN, default=omega_default, allow_empty=True))
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


def _batch_parameters(
    values: dict[str, np.ndarray], rows: np.ndarray, *, with_phi: bool = False
) -> tuple[sj.Thermal, sj.Design]:
    """Thermal and design batches of the given rows.  ``with_phi``: the design's phi is the
    :data:`PHI_COLUMN` values when some of these rows have phi != 0; otherwise (and always
    without ``with_phi``) it is the default 0 of :class:`steerjax.Design`, so rows at phi = 0
    are evaluated exactly as without a phi column."""
    thermal = sj.Thermal(**{n: np.asarray(values[n][rows], dtype=np.float64) for n in THERMAL_FIELDS})
    fields = {n: np.asarray(values[n][rows], dtype=np.float64) for n in DESIGN_FIELDS}
    if with_phi and PHI_COLUMN in values:
        phi = np.asarray(values[PHI_COLUMN][rows], dtype=np.float64)
        if np.any(phi != 0):
            fields[PHI_COLUMN] = phi
    return thermal, sj.Design(**fields)


def reject_bad_omega(table: Table) -> None:
    """Rows whose ``omega_hz`` is given but not finite and > 0 (empty cells, NaN, are fine)."""
    omega = table.values.get(OMEGA_COLUMN)
    if omega is None:
        return
    bad = table.ok & ~np.isnan(omega) & ~(np.isfinite(omega) & (omega > 0))
    if bad.any():
        table.reject(
            bad, lambda i: f"{OMEGA_COLUMN} = {float(omega[i])!r} is outside the allowed range (0, inf) [Hz]"
        )


def has_omega(table: Table) -> bool:
    """Whether some row of the table has an oscillator frequency."""
    omega = table.values.get(OMEGA_COLUMN)
    return omega is not None and bool(np.any(~np.isnan(omega)))


def evaluate_lab_frame(table: Table, rows: np.ndarray, results: dict, *, quiet: bool = False) -> list[str]:
    """Replace E of the rows with ``omega_hz`` by the lab-frame E and add
    :data:`LAB_RESULT_COLUMNS` (NaN for rows without a frequency; in place).  Returns notes on
    the rows where Gamma_j/Omega > 0.1, with how far the paper's model is off there."""
    omega = table.values[OMEGA_COLUMN][rows]
    lab_rows = np.flatnonzero(~np.isnan(omega))
    for name in LAB_RESULT_COLUMNS:
        results[name] = np.full(rows.size, np.nan)
    notes: list[str] = []
    if lab_rows.size == 0:
        return notes
    paper = {n: results[n][lab_rows].copy() for n in ("E_plus_given_minus", "E_minus_given_plus")}
    pad = (-lab_rows.size) % CONDITIONAL_PAD_ROWS
    idx = np.concatenate([lab_rows, np.full(pad, lab_rows[0])])
    thermal, design = _batch_parameters(table.values, rows[idx], with_phi=True)
    with Progress(1, label="lab frame", quiet=True) as bar:
        lab = _lab_frame_batch(thermal, design, np.asarray(omega[idx], dtype=np.float64))
        bar.update()
    m = lab_rows.size
    for name in ("E_plus_given_minus", "E_minus_given_plus", *LAB_RESULT_COLUMNS):
        results[name][lab_rows] = np.asarray(getattr(lab, name), dtype=np.float64)[:m]
    results["regime"] = _regime_names(results["E_plus_given_minus"], results["E_minus_given_plus"])
    ratio = np.asarray(sj.model.rotating_wave_ratio(thermal, design, np.asarray(omega[idx])))[:m]
    large = np.flatnonzero(ratio > sj.model.RWA_RATIO_LIMIT)
    if large.size:
        err = np.abs(paper["E_plus_given_minus"] / results["E_plus_given_minus"][lab_rows] - 1.0)[large]
        j = large[np.nanargmax(err)] if np.isfinite(err).any() else large[0]
        notes.append(
            f"{large.size} of {m} rows with {OMEGA_COLUMN} have Gamma/Omega > {sj.model.RWA_RATIO_LIMIT} "
            f"(largest {ratio.max():.3g}): the paper's rotating-wave model is off by up to "
            f"{100 * np.nanmax(err):.3g} % in E_+|- there (line {int(table.lines[rows[lab_rows[j]]])}); "
            "these rows were evaluated in the lab frame"
        )
    return notes


def reject_unstable(table: Table) -> None:
    """Vectorised stability check (gamma_+ > 0 and gamma_- > 0 from
    :func:`steerjax.cascade_rates`) of the rows that are still good."""
    rows = np.flatnonzero(table.ok)
    if rows.size == 0:
        return
    for j, reason in sj.model.unstable_entries(*_batch_parameters(table.values, rows)):
        table.reject([int(rows[j])], reason)


def evaluate_rows(table: Table, rows: np.ndarray, *, quiet: bool = False) -> dict[str, np.ndarray]:
    """Evaluate the given rows; returns result columns (numpy float64 arrays, ``regime`` as
    names).  Rows with phi = 0 (all rows when the table has no phi column) are evaluated in
    closed form by :data:`_steering_batch` (exactly as without a phi column), rows with
    phi != 0 by :data:`_steering_at_phase_batch` (the Gaussian engine,
    :func:`steerjax.model.steering_result_at_phase`); each group by :func:`_evaluate_group`."""
    phi = table.values.get(PHI_COLUMN)
    at_phase = np.zeros(rows.size, dtype=bool) if phi is None else (phi[rows] != 0)
    if not at_phase.any():
        return _evaluate_group(table, rows, _steering_batch, quiet=quiet)
    out = {name: np.empty(rows.size, dtype=np.float64) for name in NUMERIC_RESULT_COLUMNS}
    for mask, batch in ((~at_phase, _steering_batch), (at_phase, _steering_at_phase_batch)):
        if mask.any():
            part = _evaluate_group(table, rows[mask], batch, quiet=quiet)
            for name in NUMERIC_RESULT_COLUMNS:
                out[name][mask] = part[name]
    out["regime"] = _regime_names(out["E_plus_given_minus"], out["E_minus_given_plus"])
    return out


def _evaluate_group(table: Table, rows: np.ndarray, batch, *, quiet: bool = False) -> dict[str, np.ndarray]:
    """Evaluate the given rows with the compiled batch function ``batch``.  More than
    :data:`CHUNK_ROWS` rows are cut into chunks of that size, the last one padded with copies
    of its first row, so that every call has the same shape (one compilation)."""
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
            result = batch(*_batch_parameters(table.values, idx, with_phi=batch is not _steering_batch))
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
    names = (*INPUT_COLUMNS, PHI_COLUMN, *CONDITIONAL_INPUT_COLUMNS)
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


def reject_optimal_lo_phase_at_nonzero_phi(table: Table) -> None:
    """Conditional rows with phi != 0 and ``lo_phase`` optimal: the search of the best
    local-oscillator phase (:func:`steerjax.model.conditional_steering_best_phase`) is at
    phi = 0 only; a fixed ``lo_phase`` is evaluated at any phi."""
    phi, psi = table.values[PHI_COLUMN], table.values["lo_phase"]
    table.reject(
        table.ok & (phi != 0) & np.isnan(psi),
        lambda i: (
            f"phi = {float(phi[i])!r} with lo_phase optimal: the optimal local-oscillator phase is "
            "searched at phi = 0 only; give a fixed lo_phase (column or --lo-phase) for this row"
        ),
    )


def evaluate_sensitivity(values: dict[str, np.ndarray], rows: np.ndarray, *, quiet: bool = False):
    """``--margins``: the columns :data:`SENSITIVITY_RESULT_COLUMNS` of the given rows
    (:func:`steerjax.design_sensitivity` flattened by :func:`steerjax.analysis.sensitivity_columns`,
    at each row's phi).  :func:`steerjax.design_sensitivity` evaluates E about 4,800 times per
    row, so the rows go in chunks of at most :data:`SENSITIVITY_CHUNK_ROWS`, each padded with
    copies of its first row to a multiple of :data:`SENSITIVITY_PAD_ROWS` (few compilations)."""
    n = rows.size
    out = {name: np.full(n, np.nan) for name in SENSITIVITY_RESULT_COLUMNS}
    if n == 0:
        return out
    pad = SENSITIVITY_PAD_ROWS
    chunk = min(-(-n // pad) * pad, SENSITIVITY_CHUNK_ROWS)
    starts = range(0, n, chunk)
    with Progress(len(starts), label="evaluating margins", quiet=quiet or len(starts) <= 1) as bar:
        for start in starts:
            idx = rows[start : start + chunk]
            m = idx.size
            if m < chunk:
                idx = np.concatenate([idx, np.full(chunk - m, idx[0])])
            thermal, design = _batch_parameters(values, idx, with_phi=True)
            columns = sj.analysis.sensitivity_columns(_sensitivity_batch(thermal, design))
            for name in SENSITIVITY_RESULT_COLUMNS:
                out[name][start : start + m] = np.asarray(columns[name], dtype=np.float64)[:m]
            bar.update()
    return out


def reject_bad_sensitivity(table: Table, rows: np.ndarray, results: dict) -> tuple[np.ndarray, dict]:
    """Safety net of ``--margins``: a row needs finite derivatives and margins that are not
    NaN (a margin may be inf: no limit in the scanned range); others are rejected and removed."""
    bad = np.any([~np.isfinite(results[name]) for name in GRADIENT_COLUMNS], axis=0)
    bad |= np.any([np.isnan(results[name]) for name in MARGIN_COLUMNS], axis=0)
    if not bad.any():
        return rows, results
    for j in np.flatnonzero(bad).tolist():
        names = [n for n in GRADIENT_COLUMNS if not math.isfinite(float(results[n][j]))]
        names += [n for n in MARGIN_COLUMNS if math.isnan(float(results[n][j]))]
        shown = ", ".join(f"{name} = {float(results[name][j])!r}" for name in names[:4])
        more = f" and {len(names) - 4} more" if len(names) > 4 else ""
        table.reject(
            [rows[j]],
            f"no finite sensitivity ({shown}{more}): the design is at the stability edge to within "
            "rounding, or beyond the float64 range",
        )
    return rows[~bad], {k: v[~bad] for k, v in results.items()}


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
