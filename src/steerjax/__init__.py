"""steerjax: differentiable design of steady-state EPR steering in cascaded hybrid systems.

Physics: X. Huang, E. Zeuthen, Q. Gong, Q. He, "Engineering asymmetric steady-state
Einstein-Podolsky-Rosen steering in macroscopic hybrid systems".  Two oscillators of opposite
effective mass, a client (-) and a server (+), couple in cascade to one unidirectional light
field; steering in each direction is measured by Reid's parameter E (steering when E < 1/2).

Conventions: quadratures X = (a + a^dag)/sqrt(2), P = (a - a^dag)/(sqrt(2) i), vacuum variance
1/2; rates are gamma/2pi in Hz; angles in radians.

Precision: the library never changes JAX's global configuration.  For float64 (needed for the
documented accuracy) call ``jax.config.update("jax_enable_x64", True)`` -- or
:func:`steerjax.enable_x64` -- before creating arrays.  The ``steerjax`` command does this.
"""

from ._conditional import (
    ConditionalSteeringResult,
    MeasurementModel,
    conditional_covariance,
    conditional_covariance_from_rates,
    conditional_steering,
    conditional_steering_from_rates,
    measurement_model,
    measurement_model_from_rates,
)
from ._figures import (
    FigureOutcome,
    FigureScript,
    discover_figures,
    experiments_dir,
    load_figure_module,
    run_figure,
    run_figures,
    select_figures,
)
from ._gaussian import (
    QUADRATURE_ORDER,
    covariance,
    covariance_from_rates,
    drift_diffusion,
    steering_at_phase,
    steering_at_phase_from_rates,
)
from ._improvement import ConditionalImprovement, conditional_improvement
from ._lyapunov import solve_lyapunov
from ._maps import SWEEP_FIELDS, interpolated_crossings, level_crossings, regime_boundaries, steering_sweep
from ._measures import (
    REGIMES,
    classify,
    gaussian_steerability,
    log_negativity,
    min_uncertainty_eigenvalue,
    regime_name,
    reid_E,
    symplectic_eigenvalues,
)
from ._moments import Moments, moments
from ._optimal_grid import (
    STEERING_MARGIN,
    optimal_grid_data,
    optimal_grid_summary,
    optimal_steering_grid,
    table_rows,
    thermal_batch,
)
from ._optimize import (
    CONDITIONAL_WARM_PHASES,
    COUPLINGS,
    DIRECTIONS,
    EDGE_DAMPING_RATIO,
    LBFGS,
    Adam,
    OptimumResult,
    Problem,
    ProjectedNewton,
    default_block_size,
    default_lanes,
    design_from_unconstrained,
    lo_phase_from_w,
    optimize,
    rates_from_w,
    unconstrained_from_design,
    w_from_design,
)
from ._params import (
    THERMAL_PRESETS,
    Design,
    Thermal,
    thermal_preset,
)
from ._rates import (
    CascadeRates,
    OscillatorRates,
    cascade_rates,
    cos_two_theta,
    is_stable,
    oscillator_rates,
    oscillator_rates_from_damping,
)
from ._riccati import solve_riccati_filter
from ._sensitivity import (
    MARGIN_LIMITS,
    SENSITIVITY_PARAMETERS,
    SENSITIVITY_UNITS,
    DesignSensitivity,
    design_sensitivity,
    sensitivity_columns,
)
from ._steering import (
    STEERING_BOUND,
    SteeringResult,
    steering,
    steering_from_rates,
    steering_result_from_rates,
)
from ._sweeps import LossTolerance, OptimalSweep, log_grid, loss_tolerance, optimal_sweep
from ._tolerance import PhaseWorstCase, worst_case_over_phase, worst_case_over_phase_from_rates
from ._version import __version__


def __getattr__(name: str):
    # HOT and VACUUM_SERVER are built on access, in the precision in force at that moment.
    if name in ("HOT", "VACUUM_SERVER"):
        from . import _params

        return getattr(_params, name)
    raise AttributeError(f"module 'steerjax' has no attribute {name!r}")


def enable_x64(enable: bool = True) -> None:
    """Switch JAX to float64 (a global setting; call it once, before creating arrays)."""
    import jax

    jax.config.update("jax_enable_x64", bool(enable))


__all__ = [
    "__version__",
    "enable_x64",
    # parameters
    "Thermal",
    "Design",
    "HOT",
    "VACUUM_SERVER",
    "THERMAL_PRESETS",
    "thermal_preset",
    # rates
    "OscillatorRates",
    "CascadeRates",
    "cascade_rates",
    "oscillator_rates",
    "oscillator_rates_from_damping",
    "cos_two_theta",
    "is_stable",
    # closed forms
    "Moments",
    "moments",
    "SteeringResult",
    "steering",
    "steering_from_rates",
    "steering_result_from_rates",
    "STEERING_BOUND",
    # general Gaussian engine
    "solve_lyapunov",
    "drift_diffusion",
    "covariance",
    "covariance_from_rates",
    "steering_at_phase",
    "steering_at_phase_from_rates",
    "QUADRATURE_ORDER",
    # measures
    "reid_E",
    "gaussian_steerability",
    "log_negativity",
    "symplectic_eigenvalues",
    "min_uncertainty_eigenvalue",
    "classify",
    "REGIMES",
    "regime_name",
    # tolerances and margins of a design (issue 11)
    "PhaseWorstCase",
    "worst_case_over_phase",
    "worst_case_over_phase_from_rates",
    "DesignSensitivity",
    "design_sensitivity",
    "sensitivity_columns",
    "SENSITIVITY_PARAMETERS",
    "SENSITIVITY_UNITS",
    "MARGIN_LIMITS",
    # design optimisation (Sec. V, App. A)
    "Problem",
    "optimize",
    "OptimumResult",
    "ProjectedNewton",
    "LBFGS",
    "Adam",
    "DIRECTIONS",
    "COUPLINGS",
    "EDGE_DAMPING_RATIO",
    "rates_from_w",
    "w_from_design",
    "design_from_unconstrained",
    "unconstrained_from_design",
    "lo_phase_from_w",
    "CONDITIONAL_WARM_PHASES",
    "default_block_size",
    "default_lanes",
    # sweeps over C_- and the loss tolerance (Figs. 4-7)
    "OptimalSweep",
    "optimal_sweep",
    "log_grid",
    "LossTolerance",
    "loss_tolerance",
    # conditional scheme (Sec. VI, Appendix B)
    "solve_riccati_filter",
    "MeasurementModel",
    "measurement_model",
    "measurement_model_from_rates",
    "conditional_covariance",
    "conditional_covariance_from_rates",
    "ConditionalSteeringResult",
    "conditional_steering",
    "conditional_steering_from_rates",
    "ConditionalImprovement",
    "conditional_improvement",
    # data of the figures: maps, regime boundaries, optimal grids (Figs. 2-7)
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
    # figures (experiment scripts; plotting helpers are in the submodule steerjax.plotting)
    "FigureScript",
    "FigureOutcome",
    "experiments_dir",
    "discover_figures",
    "select_figures",
    "load_figure_module",
    "run_figure",
    "run_figures",
]
