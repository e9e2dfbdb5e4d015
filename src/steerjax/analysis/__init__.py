"""Data behind the figures: steering maps over (C+, C-) and angles, regime boundaries, and
grids of optimal designs (Figs. 2-7)."""

from ._maps import SWEEP_FIELDS, interpolated_crossings, level_crossings, regime_boundaries, steering_sweep
from ._optimal_grid import (
    STEERING_MARGIN,
    optimal_grid_data,
    optimal_grid_summary,
    optimal_steering_grid,
    table_rows,
    thermal_batch,
)

__all__ = [
    "SWEEP_FIELDS",
    "steering_sweep",
    "level_crossings",
    "regime_boundaries",
    "interpolated_crossings",
    "STEERING_MARGIN",
    "thermal_batch",
    "optimal_steering_grid",
    "optimal_grid_data",
    "optimal_grid_summary",
    "table_rows",
]
