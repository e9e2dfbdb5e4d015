"""``steerjax evaluate``: the columns of design and result files, the flags of a design, and
how the conditional settings are read."""

from __future__ import annotations

import argparse

from ..analysis import _sensitivity
from ..model import _best_phase
from ._messages import InputError, UsageError
from ._numbers import (
    parse_lo_phase,
    parse_number,
)
from ._thermal import (
    THERMAL_FIELDS,
)

DESIGN_FIELDS = ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
"""Design parameters set by this command besides phi (:data:`PHI_COLUMN`)."""

PHI_COLUMN = "phi"
"""Optional ``--from`` column (or ``--phi`` flag): the inter-subsystem phase phi [rad], any
finite angle; 0 when neither is given.  Rows with phi = 0 are evaluated in closed form
(:func:`steerjax.steering`), rows with phi != 0 by the Gaussian engine
(:func:`steerjax.model.steering_result_at_phase`, whose E is :func:`steerjax.steering_at_phase`).
The output has a ``phi`` column only when the file or the flag gave one."""

PHI_FLAG = "--phi"

OMEGA_COLUMN = "omega_hz"
"""Optional ``--from`` column (or ``--omega-hz`` flag): the oscillators' frequency Omega/2pi [Hz],
> 0; empty or absent: the paper's rotating-wave model.  Rows with a frequency are evaluated in
the lab-frame model (:func:`steerjax.lab_frame_steering`): their ``E_plus_given_minus`` and
``E_minus_given_plus`` are the rotation-invariant E, and :data:`LAB_RESULT_COLUMNS` are added."""

OMEGA_FLAG = "--omega-hz"

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

DESIGN_FLAGS = {
    "theta_plus": "--theta-plus",
    "theta_minus": "--theta-minus",
    "C_plus": "--c-plus",
    "C_minus": "--c-minus",
    "eps": "--eps",
}

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

CONDITIONAL_FLAGS = {"lo_phase": "--lo-phase", "efficiency": "--efficiency"}


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
