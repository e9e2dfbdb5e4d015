"""``steerjax optimize``: its flags and how they map to job columns (the columns themselves and
their checks are the library's, :mod:`steerjax.optim._jobs`)."""

from __future__ import annotations

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
