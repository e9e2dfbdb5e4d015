"""Many designs given as columns (a design file's rows): checks per row, and evaluation in
padded chunks of one compiled program per kind of row, results as columns.

Used by ``steerjax evaluate --from``; the functions take a :class:`steerjax.io.Table` (or its
``values`` mapping of column name -> per-row array) and the indices of the rows to evaluate.
Rows with phi = 0 are evaluated in closed form (:func:`steerjax.steering`), rows with phi != 0
by the Gaussian engine (:func:`steerjax.model.steering_result_at_phase`), rows with an
oscillator frequency in the lab-frame model (:func:`steerjax.lab_frame_steering`); the
conditional scheme and the margins have their own compiled calls.  Each compiled call has a
fixed shape (chunks padded with copies of their first row), so one compilation serves a file.

``progress``: None, or a callable ``progress(done, total, label)`` called with 0 before the
first chunk and after each chunk.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._validation import compiled_nan
from ..io._tables import THERMAL_FIELDS, Table
from ..model import (
    REGIMES,
    RWA_RATIO_LIMIT,
    Design,
    Thermal,
    _best_phase,
    classify,
    conditional_steering,
    conditional_steering_best_phase,
    lab_frame_covariance,
    lab_frame_steering,
    rotating_wave_ratio,
    steering,
    steering_result_at_phase,
    unstable_entries,
)
from . import _sensitivity
from ._sensitivity import design_sensitivity, sensitivity_columns

DESIGN_FIELDS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
"""Design parameters set by this command besides phi (:data:`PHI_COLUMN`)."""

PHI_COLUMN = "phi"
"""Optional ``--from`` column (or ``--phi`` flag): the inter-subsystem phase phi [rad], any
finite angle; 0 when neither is given.  Rows with phi = 0 are evaluated in closed form
(:func:`steerjax.steering`), rows with phi != 0 by the Gaussian engine
(:func:`steerjax.model.steering_result_at_phase`, whose E is :func:`steerjax.steering_at_phase`).
The output has a ``phi`` column only when the file or the flag gave one."""

OMEGA_COLUMN = "omega_hz"
"""Optional ``--from`` column (or ``--omega-hz`` flag): the oscillators' frequency Omega/2pi [Hz],
> 0; empty or absent: the paper's rotating-wave model.  Rows with a frequency are evaluated in
the lab-frame model (:func:`steerjax.lab_frame_steering`): their ``E_plus_given_minus`` and
``E_minus_given_plus`` are the rotation-invariant E, and :data:`LAB_RESULT_COLUMNS` are added."""

LAB_RESULT_COLUMNS = ("E_plus_given_minus_reid_fixed", "E_minus_given_plus_reid_fixed")
"""Columns added after :data:`RESULT_COLUMNS` when some row has ``omega_hz``: Reid's E with the
paper's fixed X/P pairing at its best instant (empty where the row has no frequency)."""

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

SENSITIVITY_PARAMETERS = _sensitivity.SENSITIVITY_PARAMETERS
"""Parameters x of ``--margins`` (:func:`steerjax.design_sensitivity`), in column order."""

SENSITIVITY_UNITS = _sensitivity.SENSITIVITY_UNITS
"""Unit of each parameter of :data:`SENSITIVITY_PARAMETERS` (margins in it, dE/dx in its
inverse)."""

GRADIENT_COLUMNS = tuple(
    f"dE_{direction}_d{name}"
    for direction in ("plus_given_minus", "minus_given_plus")
    for name in SENSITIVITY_PARAMETERS
)
"""``--margins``: dE_{+|-}/dx, then dE_{-|+}/dx, for each x [1/unit of x]."""

MARGIN_COLUMNS = tuple(
    f"{prefix}{name}" for prefix in ("margin_", "margin_minus_given_plus_") for name in SENSITIVITY_PARAMETERS
)
"""``--margins``: ``margin_<x>``, the largest error in x alone (either sign) that keeps
E_{+|-} < 1/2 [unit of x]; then ``margin_minus_given_plus_<x>``, the same for E_{-|+}
(:func:`steerjax.analysis.sensitivity_columns`).  ``inf``: none in the scanned range; 0:
E >= 1/2 at the design."""

SENSITIVITY_RESULT_COLUMNS = (*GRADIENT_COLUMNS, *MARGIN_COLUMNS)
"""Columns added last with ``--margins``."""

SENSITIVITY_CHUNK_ROWS = 64
"""Largest number of rows of one call of the compiled sensitivity function
(:func:`steerjax.design_sensitivity` evaluates E about 4,800 times per row)."""

SENSITIVITY_PAD_ROWS = 8
"""Row counts of the sensitivity calls are padded to a multiple of this (fewer compilations)."""


def _report(progress, done: int, total: int, label: str) -> None:
    if progress is not None:
        progress(done, total, label)


_steering_batch = compiled_nan(steering)
"""The one compiled function that evaluates a batch (invalid rows give NaN)."""

_steering_at_phase_batch = compiled_nan(steering_result_at_phase)
"""The compiled function for rows with phi != 0 (Gaussian engine; invalid rows give NaN)."""

_lab_frame_batch = compiled_nan(lab_frame_steering)
"""The compiled function for rows with an oscillator frequency (lab-frame model)."""

_lab_frame_covariance_batch = compiled_nan(lab_frame_covariance)
"""The compiled carrier-frame covariance of the lab-frame model (one design: its moments)."""


def lab_frame_single(thermal: Thermal, design: Design, omega: float):
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


_sensitivity_batch = compiled_nan(design_sensitivity)
"""The compiled function of ``--margins``."""

_conditional_fixed_batch = compiled_nan(conditional_steering)
"""The compiled function for rows with a given local-oscillator phase."""

_conditional_optimal_batch = compiled_nan(conditional_steering_best_phase)
"""The compiled function for rows whose local-oscillator phase is optimised."""


def evaluate_conditional(values: dict[str, np.ndarray], rows: np.ndarray, *, progress=None):
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
    _report(progress, 0, len(plans), label)
    for k, (where, chunk, is_optimal) in enumerate(plans, 1):
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
        _report(progress, k, len(plans), label)
    return out


def _batch_parameters(
    values: dict[str, np.ndarray], rows: np.ndarray, *, with_phi: bool = False
) -> tuple[Thermal, Design]:
    """Thermal and design batches of the given rows.  ``with_phi``: the design's phi is the
    :data:`PHI_COLUMN` values when some of these rows have phi != 0; otherwise (and always
    without ``with_phi``) it is the default 0 of :class:`steerjax.Design`, so rows at phi = 0
    are evaluated exactly as without a phi column."""
    thermal = Thermal(**{n: np.asarray(values[n][rows], dtype=np.float64) for n in THERMAL_FIELDS})
    fields = {n: np.asarray(values[n][rows], dtype=np.float64) for n in DESIGN_FIELDS}
    if with_phi and PHI_COLUMN in values:
        phi = np.asarray(values[PHI_COLUMN][rows], dtype=np.float64)
        if np.any(phi != 0):
            fields[PHI_COLUMN] = phi
    return thermal, Design(**fields)


def evaluate_lab_frame(table: Table, rows: np.ndarray, results: dict, *, progress=None) -> list[str]:
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
    lab = _lab_frame_batch(thermal, design, np.asarray(omega[idx], dtype=np.float64))
    m = lab_rows.size
    for name in ("E_plus_given_minus", "E_minus_given_plus", *LAB_RESULT_COLUMNS):
        results[name][lab_rows] = np.asarray(getattr(lab, name), dtype=np.float64)[:m]
    results["regime"] = _regime_names(results["E_plus_given_minus"], results["E_minus_given_plus"])
    ratio = np.asarray(rotating_wave_ratio(thermal, design, np.asarray(omega[idx])))[:m]
    large = np.flatnonzero(ratio > RWA_RATIO_LIMIT)
    if large.size:
        err = np.abs(paper["E_plus_given_minus"] / results["E_plus_given_minus"][lab_rows] - 1.0)[large]
        j = large[np.nanargmax(err)] if np.isfinite(err).any() else large[0]
        notes.append(
            f"{large.size} of {m} rows with {OMEGA_COLUMN} have Gamma/Omega > {RWA_RATIO_LIMIT} "
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
    for j, reason in unstable_entries(*_batch_parameters(table.values, rows)):
        table.reject([int(rows[j])], reason)


def evaluate_rows(table: Table, rows: np.ndarray, *, progress=None) -> dict[str, np.ndarray]:
    """Evaluate the given rows; returns result columns (numpy float64 arrays, ``regime`` as
    names).  Rows with phi = 0 (all rows when the table has no phi column) are evaluated in
    closed form by :data:`_steering_batch` (exactly as without a phi column), rows with
    phi != 0 by :data:`_steering_at_phase_batch` (the Gaussian engine,
    :func:`steerjax.model.steering_result_at_phase`); each group by :func:`_evaluate_group`."""
    phi = table.values.get(PHI_COLUMN)
    at_phase = np.zeros(rows.size, dtype=bool) if phi is None else (phi[rows] != 0)
    if not at_phase.any():
        return _evaluate_group(table, rows, _steering_batch, progress=progress)
    out = {name: np.empty(rows.size, dtype=np.float64) for name in NUMERIC_RESULT_COLUMNS}
    for mask, batch in ((~at_phase, _steering_batch), (at_phase, _steering_at_phase_batch)):
        if mask.any():
            part = _evaluate_group(table, rows[mask], batch, progress=progress)
            for name in NUMERIC_RESULT_COLUMNS:
                out[name][mask] = part[name]
    out["regime"] = _regime_names(out["E_plus_given_minus"], out["E_minus_given_plus"])
    return out


def _evaluate_group(table: Table, rows: np.ndarray, batch, *, progress=None) -> dict[str, np.ndarray]:
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
    _report(progress, 0, len(starts), "evaluating chunks")
    for k, start in enumerate(starts, 1):
        idx = rows[start : start + chunk]
        if idx.size < chunk:
            idx = np.concatenate([idx, np.full(chunk - idx.size, idx[0])])
        result = batch(*_batch_parameters(table.values, idx, with_phi=batch is not _steering_batch))
        m = min(chunk, n - start)
        for name in fields:
            out[name][start : start + m] = np.asarray(getattr(result, name), dtype=np.float64)[:m]
        _report(progress, k, len(starts), "evaluating chunks")
    out["regime"] = _regime_names(out["E_plus_given_minus"], out["E_minus_given_plus"])
    return out


def _regime_names(e_pm: np.ndarray, e_mp: np.ndarray) -> np.ndarray:
    """Regime names (:data:`steerjax.model.REGIMES`; ``invalid`` for NaN) of pairs of E values."""
    codes = np.asarray(classify(np.asarray(e_pm), np.asarray(e_mp)))
    names = np.asarray((*REGIMES, "invalid"), dtype=object)
    return names[codes]  # code -1 (NaN) indexes "invalid"


def evaluate_sensitivity(values: dict[str, np.ndarray], rows: np.ndarray, *, progress=None):
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
    _report(progress, 0, len(starts), "evaluating margins")
    for k, start in enumerate(starts, 1):
        idx = rows[start : start + chunk]
        m = idx.size
        if m < chunk:
            idx = np.concatenate([idx, np.full(chunk - m, idx[0])])
        thermal, design = _batch_parameters(values, idx, with_phi=True)
        columns = sensitivity_columns(_sensitivity_batch(thermal, design))
        for name in SENSITIVITY_RESULT_COLUMNS:
            out[name][start : start + m] = np.asarray(columns[name], dtype=np.float64)[:m]
        _report(progress, k, len(starts), "evaluating margins")
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
