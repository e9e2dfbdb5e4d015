"""A bound on the other direction's steering parameter (issue 12): the constraint of a
:class:`~steerjax.optim.Problem` built with ``max_other_E`` or ``min_other_E``.

For a problem that minimises E of one direction (say E_{+|-}), the *other* direction is the
opposite one at the same design (E_{-|+}).  The constraint is written as a relative residual

    g(w) = sign * (E_other(w) / bound - 1) <= 0,     sign = +1 (max_other_E), -1 (min_other_E),

and handled by an augmented Lagrangian (Rockafellar's form for an inequality): the local search
minimises

    E(w) + (max(0, lambda + mu g(w))^2 - lambda^2) / (2 mu)

for a multiplier ``lambda >= 0`` and a penalty ``mu > 0`` held fixed during one search; the
outer loop (:mod:`steerjax.optim._constrained`) updates them between searches.  At a KKT point
of the constrained problem with its multiplier the term has zero value and zero gradient, so
the minimiser of the augmented function *is* the constrained optimum once ``lambda`` is right
(no penalty parameter has to go to infinity).  The multiplier and penalty are fields of the
constraint (one per problem of a batch), so every problem of a batch carries its own and the
compiled search is shared by all outer iterations.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._validation import parse_direction
from ..model._params import check_real


class OtherEConstraint(eqx.Module):
    """The bound on the other direction's E of a :class:`~steerjax.optim.Problem` (batch shape
    of the problem on every array field).

    Example:
        >>> import steerjax as sj
        >>> c = sj.Problem(sj.HOT, C_minus=10.0, min_other_E=[0.5, 1.0]).other_E
        >>> c.bound.tolist(), c.sign.tolist()
        ([0.5, 1.0], [-1.0, -1.0])

    Attributes:
        bound: the bound on E_other [dimensionless] (> 0).
        multiplier: the augmented-Lagrangian multiplier lambda >= 0 of the current outer
            iteration (0 as built).
        penalty: the penalty mu > 0 of the current outer iteration.
        sign: +1 for an upper bound (``max_other_E``: E_other <= bound), -1 for a lower one
            (``min_other_E``: E_other >= bound); an array, so that one batch (one compiled
            search) may hold both kinds, as :func:`steerjax.pareto_front` does.
    """

    bound: Array
    multiplier: Array
    penalty: Array
    sign: Array


def other_direction(direction: str) -> str:
    """The opposite steering direction (``plus-given-minus`` <-> ``minus-given-plus``)."""
    d = parse_direction(direction)
    return "minus-given-plus" if d == "plus-given-minus" else "plus-given-minus"


def residual(constraint: OtherEConstraint, E_other: Array) -> Array:
    """The relative residual g = sign (E_other/bound - 1); the constraint holds where g <= 0."""
    return constraint.sign * (E_other / constraint.bound - 1.0)


def augmented_term(constraint: OtherEConstraint, E_other: Array) -> Array:
    """The augmented-Lagrangian term (max(0, lambda + mu g)^2 - lambda^2) / (2 mu) added to the
    objective (zero where the constraint is inactive and lambda = 0)."""
    lam, mu = constraint.multiplier, constraint.penalty
    shifted = jnp.maximum(0.0, lam + mu * residual(constraint, E_other))
    return (shifted**2 - lam**2) / (2.0 * mu)


def constraint_leaf(max_other_E, min_other_E, batch_shape: tuple[int, ...]) -> OtherEConstraint | None:
    """The checked constraint of :class:`~steerjax.optim.Problem` (``None`` when neither bound is
    given): the bound finite and > 0 (ValueError naming the argument, its value and the allowed
    range), broadcast to ``batch_shape``; multiplier 0, penalty :data:`INITIAL_PENALTY`."""
    if max_other_E is not None and min_other_E is not None:
        raise ValueError(
            f"max_other_E = {max_other_E!r} and min_other_E = {min_other_E!r}: give at most one "
            "bound on the other direction's E"
        )
    if max_other_E is None and min_other_E is None:
        return None
    check_real(max_other_E=max_other_E, min_other_E=min_other_E)
    sense = "max" if max_other_E is not None else "min"
    value = max_other_E if sense == "max" else min_other_E
    b = np.asarray(value, dtype=float)
    if np.any(~(np.isfinite(b) & (b > 0))):
        raise ValueError(f"{sense}_other_E = {value!r} is outside the allowed range (0, inf)")
    try:
        b = np.broadcast_to(b, batch_shape)
    except ValueError:
        raise ValueError(
            f"{sense}_other_E has batch shape {b.shape}, which does not broadcast with the "
            f"problem's batch shape {batch_shape}"
        ) from None
    return OtherEConstraint(
        bound=np.array(b),
        multiplier=np.zeros(batch_shape),
        penalty=np.full(batch_shape, INITIAL_PENALTY),
        sign=np.full(batch_shape, 1.0 if sense == "max" else -1.0),
    )


INITIAL_PENALTY = 10.0
"""Penalty mu of the first outer iteration (the residual is relative, E is O(0.1-1))."""
