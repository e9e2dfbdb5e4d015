"""Analysis of designs: steering maps over (C+, C-) and angles, regime boundaries and grids of
optimal designs (the data of Figs. 2-7), the gradients and steering margins of a design, and
the elasticities of optima against C- (Fig. 10(b)); one design evaluated in full, as the record
and the text report of ``steerjax evaluate``."""

from ._concurrent import default_workers, run_concurrently
from ._elasticity import IMPROVEMENT_PARAMETERS, largest_elasticity, optimum_elasticities
from ._maps import SWEEP_FIELDS, interpolated_crossings, level_crossings, regime_boundaries, steering_sweep
from ._optimal_grid import (
    STEERING_MARGIN,
    optimal_grid_data,
    optimal_grid_summary,
    optimal_steering_grid,
    table_rows,
    thermal_batch,
)
from ._sensitivity import (
    MARGIN_LIMITS,
    SENSITIVITY_PARAMETERS,
    SENSITIVITY_UNITS,
    DesignSensitivity,
    design_sensitivity,
    sensitivity_columns,
)
from ._single_design import design_report, evaluate_design

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
    # independent optimisations side by side (compilations overlap)
    "run_concurrently",
    "default_workers",
    # gradients and steering margins of a design (issue 11)
    "design_sensitivity",
    "DesignSensitivity",
    "sensitivity_columns",
    "SENSITIVITY_PARAMETERS",
    "SENSITIVITY_UNITS",
    "MARGIN_LIMITS",
    # one design in full, as a record and as the text report of `steerjax evaluate`
    "evaluate_design",
    "design_report",
    # which improvement pays most: elasticities of the optimum against C_- (issue 12)
    "optimum_elasticities",
    "largest_elasticity",
    "IMPROVEMENT_PARAMETERS",
]
