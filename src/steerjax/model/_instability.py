"""Why a design is unstable, in words: the reason for one oscillator and the unstable entries of a
batch (the stability edge itself is :func:`steerjax._validation.stability_edge`)."""

from __future__ import annotations

import math

import jax
import numpy as np

from .._validation import stable_theta_min
from ._params import Design, Thermal
from ._rates import cascade_rates

__all__ = ["instability_reason", "unstable_entries"]


def instability_reason(side: str, gamma: float, theta: float, C: float, nbar: float) -> str:
    """Why one oscillator (``side``: ``"plus"`` or ``"minus"``) with net damping ``gamma``
    [Hz] <= 0 is unstable, with the ranges of theta and C that would make it stable."""
    c2 = math.cos(2.0 * theta)
    edge = stable_theta_min(C, nbar)
    fixes = []
    if edge > 0:
        fixes.append(f"theta_{side} in ({edge!r}, pi/2] at this C_{side}")
    if c2 > 0:
        fixes.append(f"C_{side} < {1.0 / ((nbar + 0.5) * c2):.6g} at this theta_{side}")
    return (
        f"dynamically unstable: gamma_{side}/2pi = {gamma:.6g} Hz <= 0 (theta_{side} = {theta!r}, "
        f"C_{side} = {C!r}); stability needs cos(2 theta_{side}) < 1/(C_{side} (nbar_{side} + 1/2))"
        + (f", i.e. {' or '.join(fixes)}" if fixes else "")
    )


_cascade_rates_compiled = jax.jit(cascade_rates)


def unstable_entries(thermal: Thermal, design: Design) -> list[tuple[int, str]]:
    """``(index, reason)`` for every unstable oscillator of a 1-D batch of designs: the
    client's (``gamma_- <= 0``) first, then the server's, each in index order; the reason is
    :func:`instability_reason`.  Concrete inputs only.

    The rates [Hz] come from one compiled :func:`steerjax.cascade_rates` (the sign of a net
    damping at the edge is that of the compiled program, as in the command line before).

    Examples:
        >>> import math, steerjax as sj
        >>> d = sj.Design([0.4 * math.pi, 0.4 * math.pi], [0.35 * math.pi, 0.05 * math.pi], 100.0, 50.0)
        >>> [(j, why[:37]) for j, why in sj.model.unstable_entries(sj.HOT, d)]
        [(1, 'dynamically unstable: gamma_minus/2pi')]
    """
    rates = _cascade_rates_compiled(thermal, design)
    out = []
    for side, osc in (("minus", rates.minus), ("plus", rates.plus)):
        gamma = np.asarray(osc.gamma, dtype=np.float64)
        shape = gamma.shape
        theta, C = (
            np.broadcast_to(np.asarray(getattr(design, f"{n}_{side}"), float), shape) for n in ("theta", "C")
        )
        nbar = np.broadcast_to(np.asarray(getattr(thermal, f"nbar_{side}"), float), shape)
        for j in np.flatnonzero(~(gamma > 0)).tolist():
            out.append(
                (j, instability_reason(side, float(gamma[j]), float(theta[j]), float(C[j]), float(nbar[j])))
            )
    return out
