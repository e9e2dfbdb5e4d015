"""``steerjax optimize``: the columns of job and result files, and the words its flags accept."""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Sequence

import numpy as np

import steerjax as sj

from .._validation import parse_direction as _parse_direction
from ._numbers import (
    parse_integer,
)
from ._tables import (
    THERMAL_PRESET_COLUMN,
)
from ._thermal import (
    THERMAL_FIELDS,
)

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
    "phase_tolerance",
    "theta_tolerance",
    "c_tolerance",
    "eps_range_min",
    "eps_range_max",
    "max_settling_time_s",
    "max_other_E",
    "min_other_E",
    "omega_hz",
    "phi_min",
    "phi_max",
)
"""Optional constraint columns of a job (empty cell: no constraint).  Angles in radians; then
the tolerances (:data:`TOLERANCE_FLAGS`), the settling time [s], the bounds on the other
direction's E (:data:`OTHER_E_COLUMNS`), the oscillator frequency Omega/2pi [Hz] (lab-frame
model) and the range of the carrier phase phi [rad] (phi re-tuned)."""

OTHER_E_COLUMNS = ("max_other_E", "min_other_E")
"""Bounds on the other direction's E at the same design (issue 12): at most one per job."""

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

TOLERANCE_RANGES = {
    # column: (allowed-range text, test of a given value)
    "phase_tolerance": ("[0, pi/2] (rad)", lambda x: (x >= 0) & (x <= math.pi / 2)),
    "theta_tolerance": ("[0, pi/4] (rad)", lambda x: (x >= 0) & (x <= math.pi / 4)),
    "c_tolerance": ("[0, 1) (relative error of C_+ and C_-)", lambda x: (x >= 0) & (x < 1)),
    "eps_range_min": ("[0, 1)", lambda x: (x >= 0) & (x < 1)),
    "eps_range_max": ("[0, 1)", lambda x: (x >= 0) & (x < 1)),
    "max_settling_time_s": ("(0, inf] (seconds)", lambda x: x > 0),
    "max_other_E": ("(0, inf)", lambda x: (x > 0) & (x < math.inf)),
    "min_other_E": ("(0, inf)", lambda x: (x > 0) & (x < math.inf)),
    "omega_hz": ("(0, inf) (Hz)", lambda x: np.isfinite(x) & (x > 0)),
    "phi_min": ("[-pi/2, pi/2] (rad)", lambda x: np.abs(x) <= math.pi / 2),
    "phi_max": ("[-pi/2, pi/2] (rad)", lambda x: np.abs(x) <= math.pi / 2),
}

ANGLE_CONSTRAINTS = frozenset(
    (
        "theta_plus_min",
        "theta_plus_max",
        "theta_minus_min",
        "theta_minus_max",
        "phase_tolerance",
        "theta_tolerance",
        "phi_min",
        "phi_max",
    )
)
"""Constraint columns read as angles (``0.01pi`` allowed); the others are plain numbers."""

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

OTHER_E_RESULT_COLUMNS = ("E_other",)
"""Written after ``E`` (and ``E_worst``) when some job bounds the other direction's E: that E
at the returned design (for every job, bounded or not)."""

PHASE_RESULT_COLUMNS = ("phi",)
"""Written after ``C_plus`` when some job re-tunes the carrier phase (``omega_hz`` or
``phi_min/max`` given): the optimal phi [rad] (0 for the other jobs)."""

TOLERANCE_RESULT_COLUMNS = ("E_worst",)
"""Written right after ``E`` when some job has a tolerance: the worst case of the job's E over
its tolerance set at the returned design (``E`` itself for a job without tolerance)."""

SENSITIVITY_PARAMETERS = sj.optim.OPTIMUM_PARAMETERS[:6]
"""Parameters p whose columns ``--sensitivities`` always writes: nbar_+-, gamma0_+- [Hz], eps,
C_- (:func:`steerjax.optimum_sensitivity`)."""

CONSTRAINT_SENSITIVITY_PARAMETERS = sj.optim.OPTIMUM_PARAMETERS[6:]
"""Parameters whose ``--sensitivities`` columns are written only when some job sets them: the
damping margin (a non-zero ``min_damping_ratio``), the tolerances and the settling time."""


def sensitivity_columns(parameters) -> tuple[str, ...]:
    """The ``--sensitivities`` columns for ``parameters``, written last: every
    ``dEstar_d_<p>`` [1/unit of p], then every ``elasticity_<p>`` (d ln E*/d ln p) [1]."""
    return tuple(f"dEstar_d_{p}" for p in parameters) + tuple(f"elasticity_{p}" for p in parameters)


OUTPUT_RESULT_COLUMNS = RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""The columns added to every output row when no job is conditional and none has a
tolerance, in order."""

ALL_RESULT_COLUMNS = RESULT_COLUMNS + CONDITIONAL_RESULT_COLUMNS + DIAGNOSTIC_COLUMNS
"""Every result column of a job without tolerance (:data:`TOLERANCE_RESULT_COLUMNS` add one);
those of a results file used as input are replaced."""

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
    "phi_bounds": ("--phi-bounds", "phi_min", "phi_max"),
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


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _not_allowed(kind: str, text: str, allowed: Sequence[str]) -> ValueError:
    return ValueError(f"{str(text).strip()!r} is not a {kind}; allowed: {', '.join(allowed)}")


def parse_coupling(text: str) -> str:
    """Text -> ``"asymmetric"`` or ``"symmetric"`` (case and ``_``/``-`` ignored)."""
    key = str(text).strip().lower().replace("_", "-")
    if key not in sj.optim.COUPLINGS:
        raise _not_allowed("coupling", text, sj.optim.COUPLINGS)
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


def _int_in(low: int, high: int):
    """An argparse type: a whole number in [low, high] (one-line error naming the range)."""

    def parse(text: str) -> int:
        try:
            value = parse_integer(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside the allowed range [{low}, {high}]")
        return value

    return parse


MAX_STARTS = 1_000_000
"""Largest ``--starts`` (each start is a search; a million per optimum is far past any use)."""

MAX_GRID_POINTS = 10_000_000
"""Largest N of ``--c-minus-grid`` (ten million optima; the results are held in memory)."""

MAX_SEED = 2**63 - 1
"""Largest ``--seed`` (jax.random.PRNGKey takes a signed 64-bit integer)."""
