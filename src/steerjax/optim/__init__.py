"""Design optimisation (Sec. V, Appendix A): the problem, its reparameterisation, the
solvers, the results, and the sweeps over C- and the loss tolerance (Figs. 4-8)."""

from .._validation import DIRECTIONS
from ._constrained import InfeasibleBoundError
from ._constraint import OtherEConstraint
from ._coordinates import (
    design_from_unconstrained,
    lo_phase_from_w,
    rates_from_w,
    unconstrained_from_design,
    w_from_design,
)
from ._distributed import join_job_from_environment
from ._feasibility import problem_feasibility
from ._fronts import Front, Fronts, non_dominated, pareto_front
from ._improvement import ConditionalImprovement, conditional_improvement
from ._optimize import CONDITIONAL_WARM_PHASES, optimize
from ._optimum_sensitivity import (
    OPTIMUM_PARAMETER_UNITS,
    OPTIMUM_PARAMETERS,
    OptimumParameters,
    OptimumSensitivity,
    optimum_sensitivity,
)
from ._options import ExecutionOptions, SearchOptions
from ._problem import COUPLINGS, EDGE_DAMPING_RATIO, Measurement, Problem
from ._program_store import compilation_cache_dir, use_compilation_cache
from ._result import OptimumResult
from ._search import default_block_size, default_lanes
from ._solvers import LBFGS, AbstractMinimiser, Adam, ProjectedNewton
from ._sweeps import LossTolerance, OptimalSweep, log_grid, loss_tolerance, optimal_sweep

__all__ = [
    "Problem",
    "Measurement",
    "optimize",
    "SearchOptions",
    "ExecutionOptions",
    "OptimumResult",
    "problem_feasibility",
    "ProjectedNewton",
    "LBFGS",
    "Adam",
    "AbstractMinimiser",
    "DIRECTIONS",
    "COUPLINGS",
    "EDGE_DAMPING_RATIO",
    "CONDITIONAL_WARM_PHASES",
    "default_block_size",
    "default_lanes",
    # compiled programs kept across processes (the steerjax command's caches)
    "use_compilation_cache",
    "compilation_cache_dir",
    # a multi-process job from environment variables (entry points)
    "join_job_from_environment",
    # coordinates of the search (constrained reparameterisation)
    "rates_from_w",
    "w_from_design",
    "design_from_unconstrained",
    "unconstrained_from_design",
    "lo_phase_from_w",
    # sweeps (Figs. 4-7) and the conditional improvement (Fig. 8)
    "OptimalSweep",
    "optimal_sweep",
    "log_grid",
    "LossTolerance",
    "loss_tolerance",
    "ConditionalImprovement",
    "conditional_improvement",
    # sensitivity of the optimum to the fixed parameters (issue 12)
    "optimum_sensitivity",
    "OptimumSensitivity",
    "OptimumParameters",
    "OPTIMUM_PARAMETERS",
    "OPTIMUM_PARAMETER_UNITS",
    # the two directions' trade-off (bounds on the other direction's E, fronts)
    "OtherEConstraint",
    "InfeasibleBoundError",
    "pareto_front",
    "Fronts",
    "Front",
    "non_dominated",
]
