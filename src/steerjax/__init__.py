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

Layout (one concept per subpackage; the top level re-exports the everyday names):

- :mod:`steerjax.model` -- parameters, rates, closed forms (Eqs. 4-6), Gaussian engine,
  conditional scheme (Appendix B), measures;
- :mod:`steerjax.linalg` -- small Lyapunov, Riccati, linear and eigen solvers;
- :mod:`steerjax.optim` -- the design problem, its reparameterisation, solvers, sweeps;
- :mod:`steerjax.analysis` -- maps, regime boundaries, grids of optima (figure data);
- :mod:`steerjax.plotting` -- matplotlib helpers and the runner of the figure scripts.
"""

from . import analysis, io, linalg, model, optim
from ._figures import run_figures
from ._version import __version__
from .analysis import design_sensitivity, optimal_steering_grid, steering_sweep
from .model import (
    STEERING_BOUND,
    THERMAL_PRESETS,
    ConditionalSteeringResult,
    Design,
    SteeringResult,
    Thermal,
    cascade_rates,
    classify,
    conditional_covariance,
    conditional_steering,
    covariance,
    gaussian_steerability,
    is_stable,
    lab_frame_steering,
    log_negativity,
    reid_E,
    steering,
    steering_at_phase,
    thermal_preset,
    worst_case_over_phase,
)
from .optim import (
    DIRECTIONS,
    LBFGS,
    Adam,
    ConditionalImprovement,
    ExecutionOptions,
    Fronts,
    LossTolerance,
    OptimalSweep,
    OptimumResult,
    Problem,
    ProjectedNewton,
    SearchOptions,
    conditional_improvement,
    log_grid,
    loss_tolerance,
    optimal_sweep,
    optimize,
    optimum_sensitivity,
    pareto_front,
)

# Names that lived at the top level before the subpackages existed; asking for one says where
# it is now instead of a bare AttributeError.
_MOVED = {
    **{name: "model" for name in model.__all__},
    **{name: "linalg" for name in linalg.__all__},
    **{name: "optim" for name in optim.__all__},
    **{name: "analysis" for name in analysis.__all__},
    **{
        name: "plotting"
        for name in (
            "FigureScript",
            "FigureOutcome",
            "experiments_dir",
            "discover_figures",
            "select_figures",
            "load_figure_module",
            "run_figure",
        )
    },
}


def __getattr__(name: str):
    # HOT and VACUUM_SERVER are built on access, in the precision in force at that moment.
    if name in ("HOT", "VACUUM_SERVER"):
        return getattr(model, name)
    if name in _MOVED:
        raise AttributeError(
            f"steerjax.{name} is not part of the top-level API; use steerjax.{_MOVED[name]}.{name}"
        )
    raise AttributeError(f"module 'steerjax' has no attribute {name!r}")


def enable_x64(enable: bool = True) -> None:
    """Switch JAX to float64 (a global setting; call it once, before creating arrays)."""
    import jax

    jax.config.update("jax_enable_x64", bool(enable))


__all__ = [
    "__version__",
    "enable_x64",
    # parameters (Sec. II)
    "Thermal",
    "Design",
    "HOT",
    "VACUUM_SERVER",
    "THERMAL_PRESETS",
    "thermal_preset",
    "cascade_rates",
    "is_stable",
    # steering in closed form (Eqs. 4-6) and at any inter-subsystem phase
    "steering",
    "SteeringResult",
    "STEERING_BOUND",
    "steering_at_phase",
    "covariance",
    # beyond the rotating-wave approximation (oscillator frequency Omega)
    "lab_frame_steering",
    # tolerances and margins of a design (beyond the paper)
    "worst_case_over_phase",
    "design_sensitivity",
    # measures (Sec. III)
    "reid_E",
    "gaussian_steerability",
    "log_negativity",
    "classify",
    # conditional scheme (Sec. VI)
    "conditional_steering",
    "ConditionalSteeringResult",
    "conditional_covariance",
    # design optimisation (Sec. V)
    "Problem",
    "optimize",
    "SearchOptions",
    "ExecutionOptions",
    "OptimumResult",
    "optimum_sensitivity",
    "ProjectedNewton",
    "LBFGS",
    "Adam",
    "DIRECTIONS",
    # the trade-off between the two directions (beyond the paper)
    "pareto_front",
    "Fronts",
    # sweeps and figure data (Figs. 2-8)
    "optimal_sweep",
    "OptimalSweep",
    "log_grid",
    "loss_tolerance",
    "LossTolerance",
    "conditional_improvement",
    "ConditionalImprovement",
    "steering_sweep",
    "optimal_steering_grid",
    "run_figures",
    # subpackages
    "model",
    "linalg",
    "optim",
    "analysis",
    "io",
]
