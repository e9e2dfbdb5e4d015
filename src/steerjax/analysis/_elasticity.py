"""Which hardware improvement pays most: elasticities of the optimal E against C_- (issue 12,
the data of Fig. 10(b)).

For a thermal set and a vector of client cooperativities C_-, :func:`optimum_elasticities`
optimises every C_- in one batched :func:`steerjax.optimize` call and returns the elasticities
d ln E*/d ln p of the optimum (:func:`steerjax.optimum_sensitivity`: envelope theorem with the
active bounds, no re-optimisation) for the hardware parameters :data:`IMPROVEMENT_PARAMETERS`:
the bath occupations nbar_+-, the intrinsic linewidths gamma0_+- [Hz], the loss eps and C_-
itself.  An elasticity of -0.4 means: 1 % more of p lowers E* by 0.4 %; its sign says in which
direction p must move to help.  Everything else of the problem (C_+ and both angles free,
the default bounds) is as in :class:`steerjax.Problem`.
"""

from __future__ import annotations

import numpy as np

from ..model._params import Thermal
from ..optim._optimize import optimize
from ..optim._optimum_sensitivity import OPTIMUM_PARAMETERS, OptimumSensitivity, optimum_sensitivity
from ..optim._options import ExecutionOptions, SearchOptions
from ..optim._problem import Problem

__all__ = ["IMPROVEMENT_PARAMETERS", "optimum_elasticities", "largest_elasticity"]

IMPROVEMENT_PARAMETERS = OPTIMUM_PARAMETERS[:6]
"""The hardware parameters of the figure: nbar_plus, nbar_minus, gamma0_plus_hz,
gamma0_minus_hz, eps, C_minus."""


def optimum_elasticities(
    thermal: Thermal,
    C_minus,
    *,
    eps=0.0,
    direction: str = "plus-given-minus",
    search: SearchOptions | None = None,
    execution: ExecutionOptions | None = None,
) -> OptimumSensitivity:
    """Elasticities (and derivatives) of the optimal E of ``direction`` against a vector of
    client cooperativities (Sec. V's optimum; issue 12, Fig. 10(b)).

    Args:
        thermal: thermal parameters (e.g. ``steerjax.HOT``, ``steerjax.VACUUM_SERVER``).
        C_minus: client cooperativities C_- [1], any batch shape (broadcast with ``eps``).
        eps: the loss [1], in [0, 1).  At ``eps = 0`` the elasticity of eps is 0 (no relative
            change is possible); ``derivative.eps`` [1/unit] still says what loss costs.
        direction: the minimised direction (default E_{+|-}, client => server).
        search, execution: as for :func:`steerjax.optimize`.

    Returns:
        :class:`steerjax.optim.OptimumSensitivity` of the batch shape; its ``elasticity`` has
        one field per parameter of :data:`IMPROVEMENT_PARAMETERS` (and NaN for the tolerances,
        which this problem does not have).

    Example:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax as sj
        >>> s = sj.analysis.optimum_elasticities(sj.HOT, [2.0, 100.0])
        >>> [round(float(x), 4) for x in s.elasticity.C_minus]
        [-0.1786, -0.4889]
        >>> list(sj.analysis.largest_elasticity(s))
        ['C_minus', 'C_minus']
    """
    problem = Problem(thermal, C_minus, eps=eps, direction=direction)
    return optimum_sensitivity(problem, optimize(problem, search, execution))


def largest_elasticity(sensitivity: OptimumSensitivity, parameters=IMPROVEMENT_PARAMETERS) -> np.ndarray:
    """Per optimum, the name of the parameter of ``parameters`` whose elasticity is largest in
    magnitude (the improvement that pays most per relative change); numpy array of str of the
    batch shape."""
    e = np.stack([np.asarray(getattr(sensitivity.elasticity, p)) for p in parameters], -1)
    k = np.argmax(np.where(np.isnan(e), -np.inf, np.abs(e)), axis=-1)
    return np.asarray(parameters, dtype=object)[k]
