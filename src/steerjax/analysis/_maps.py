"""Steering on grids of designs, and where it crosses the bound (the data of Figs. 2-3).

* :func:`steering_sweep` evaluates :func:`steerjax.steering` on broadcast grids of designs in
  one jitted call and returns numpy arrays (NaN and regime -1 where unstable): the maps and
  cuts of Figs. 2-3.
* :func:`level_crossings` locates, to rounding level, where a sampled function crosses a level
  (bracketing on the samples, then a batched bisection); :func:`regime_boundaries` does this for
  E_{+|-} and E_{-|+} along a cut (Eq. 12's bound 1/2) and names the regime on each side.
* :func:`interpolated_crossings` is the cheap version for sampled curves that cannot be
  re-evaluated (linear interpolation between neighbouring samples, e.g. an optimum per grid
  point in Figs. 4-7).

Nothing here imports matplotlib; drawing is in :mod:`steerjax.plotting`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..model._measures import REGIMES, classify
from ..model._params import Design, Thermal
from ..model._steering import STEERING_BOUND, steering

__all__ = [
    "SWEEP_FIELDS",
    "steering_sweep",
    "level_crossings",
    "regime_boundaries",
    "interpolated_crossings",
]

SWEEP_FIELDS = (
    "E_plus_given_minus",
    "E_minus_given_plus",
    "var_plus",
    "var_minus",
    "cov",
    "bare_var_plus",
    "bare_var_minus",
    "gamma_plus_hz",
    "gamma_minus_hz",
    "f",
)
"""Fields of :class:`steerjax.SteeringResult` returned by :func:`steering_sweep`."""


def _steering_points(thermal: Thermal, theta_plus, theta_minus, C_plus, C_minus, eps):
    design = Design(theta_plus=theta_plus, theta_minus=theta_minus, C_plus=C_plus, C_minus=C_minus, eps=eps)
    result = steering(thermal, design, on_invalid="nan")
    return result, result.regime


_steering_points_jit = jax.jit(_steering_points)


def steering_sweep(
    thermal: Thermal, theta_plus, theta_minus, C_plus, C_minus, eps=0.0
) -> dict[str, np.ndarray]:
    """Closed-form steering (:func:`steerjax.steering`) of a whole sweep in one jitted call.

    The design arguments are broadcast against each other (e.g. a column of ``C_plus`` and a
    row of ``C_minus`` give a map); unstable designs give NaN (``on_invalid="nan"``) and regime
    code -1.  Small batches (up to 4096 points) are padded to a power of two of at least 16,
    so that repeated small calls -- a bisection -- reuse a handful of compilations.  The
    precision is that in force (enable float64 for the documented accuracy).

    Returns:
        numpy arrays of the broadcast shape: the :data:`SWEEP_FIELDS` and ``regime`` (codes of
        :func:`steerjax.classify`).

    Examples:
        >>> import math, numpy as np, steerjax as sj
        >>> out = sj.steering_sweep(sj.thermal_preset("hot"), 0.4 * math.pi, 0.35 * math.pi,
        ...                          np.array([[25.0], [100.0]]), np.array([50.0, 100.0]))
        >>> out["E_plus_given_minus"].shape, out["regime"].tolist()
        ((2, 2), [[3, 0], [3, 3]])
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (theta_plus, theta_minus, C_plus, C_minus, eps))
    )
    shape = arrays[0].shape
    n = arrays[0].size
    padded = n if n > 4096 else max(16, 1 << max(n - 1, 0).bit_length())
    flat = []
    for a in arrays:
        a = a.reshape(-1)
        fill = a[0] if n else 0.0
        flat.append(jnp.asarray(np.concatenate([a, np.full(padded - n, fill)])))
    result, regime = _steering_points_jit(thermal, *flat)
    out = {name: np.asarray(getattr(result, name))[:n].reshape(shape) for name in SWEEP_FIELDS}
    out["regime"] = np.asarray(regime)[:n].reshape(shape)
    return out


def level_crossings(
    fn: Callable[[np.ndarray], np.ndarray],
    x,
    level: float = STEERING_BOUND,
    *,
    values=None,
    max_iter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """All points where a sampled 1-D function crosses ``level``, located by bisection.

    The samples ``values = fn(x)`` (computed here if not given) bracket each crossing between
    two neighbouring grid points whose values lie on opposite sides of ``level``; every bracket
    is then halved until its ends are adjacent floating-point numbers, with one batched call
    of ``fn`` per halving.  A crossing that falls between two samples of the same side (two
    crossings within one grid step) is not seen: refine the grid if that matters.  Brackets
    touching a NaN are skipped.

    Args:
        fn: vectorised function, ``fn(x_array) -> array`` of the same shape (jit it for speed).
        x: sorted 1-D grid (strictly increasing).
        level: the level (default the steering bound 1/2).
        values: ``fn(x)`` if already computed.
        max_iter: cap on the halvings (float64 needs at most ~64 from a grid bracket).

    Returns:
        ``(roots, rising)``: the crossing points in increasing order, and for each whether
        ``fn - level`` goes from negative to positive there.

    Examples:
        >>> import numpy as np, steerjax as sj
        >>> roots, rising = sj.analysis.level_crossings(lambda t: np.cos(t), np.linspace(0.0, 7.0, 8), 0.0)
        >>> np.round(roots / np.pi, 12).tolist(), rising.tolist()
        ([0.5, 1.5], [False, True])
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.diff(x) > 0):
        raise ValueError("level_crossings: x must be a strictly increasing 1-D grid of at least 2 points")
    v = np.asarray(fn(x) if values is None else values, dtype=float) - level
    if v.shape != x.shape:
        raise ValueError(f"level_crossings: values have shape {v.shape}, expected {x.shape}")
    ok = np.isfinite(v[:-1]) & np.isfinite(v[1:])
    idx = np.flatnonzero(ok & ((v[:-1] < 0) != (v[1:] < 0)))
    if idx.size == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    lo_negative = v[idx] < 0

    def below(t):
        return np.asarray(fn(t), dtype=float) - level < 0

    return _bisect(below, x[idx], x[idx + 1], lo_negative, max_iter), lo_negative


def _bisect(predicate, lo, hi, flag_lo, max_iter: int = 200) -> np.ndarray:
    """Batched bisection of brackets ``[lo, hi]`` on which a boolean ``predicate`` changes:
    ``predicate(lo) == flag_lo != predicate(hi)``.  Halves every bracket until its ends are
    adjacent floating-point numbers (one call of ``predicate`` per halving) and returns the
    midpoints."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    flag_lo = np.asarray(flag_lo, dtype=bool)
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        active = (mid > lo) & (mid < hi)
        if not active.any():
            break
        to_lo = active & (np.asarray(predicate(mid), dtype=bool) == flag_lo)
        to_hi = active & ~to_lo
        lo = np.where(to_lo, mid, lo)
        hi = np.where(to_hi, mid, hi)
    return 0.5 * (lo + hi)


def regime_boundaries(
    E_fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x,
    *,
    values: tuple[np.ndarray, np.ndarray] | None = None,
    bound: float = STEERING_BOUND,
) -> dict[str, list]:
    """Exact regime boundaries along a 1-D cut: where E_{+|-} or E_{-|+} crosses ``bound``.

    Both crossings are located with :func:`level_crossings`, and so are the edges of the part
    of the cut where both E are finite (``E_fn`` returns NaN for unstable designs, as
    :func:`steering_sweep` does); the regime between consecutive boundaries is then classified
    at the midpoint (by one more call of ``E_fn``).

    Args:
        E_fn: vectorised ``E_fn(x) -> (E_plus_given_minus, E_minus_given_plus)``.
        x: strictly increasing 1-D grid (the cut's coordinate, or its logarithm).
        values: ``E_fn(x)`` if already computed.
        bound: the steering bound.

    Returns:
        ``{"boundaries": [...], "segments": [...]}``.  Each boundary is a dict with ``x``, the
        ``quantity`` that crosses (``"E_plus_given_minus"``, ``"E_minus_given_plus"``, or
        ``"validity"`` where the E turn NaN -- for :func:`steering_sweep` the stability edge),
        ``regime_below`` and ``regime_above`` (names from :data:`steerjax.model.REGIMES`, for the
        sides of smaller and larger ``x``); each segment a dict with ``x_start``, ``x_end`` and
        ``regime``, covering the grid from its first to its last point.
    """
    x = np.asarray(x, dtype=float)
    e_pm, e_mp = values if values is not None else E_fn(x)
    found = []
    for k, (name, v) in enumerate((("E_plus_given_minus", e_pm), ("E_minus_given_plus", e_mp))):

        def component(t, k=k):
            return np.asarray(E_fn(t)[k], dtype=float)

        roots, _ = level_crossings(component, x, bound, values=np.asarray(v, dtype=float))
        found += [(float(r), name) for r in roots]
    # Edges of the valid (finite) part of the cut, e.g. the stability edge.
    valid = np.isfinite(np.asarray(e_pm, dtype=float)) & np.isfinite(np.asarray(e_mp, dtype=float))
    idx = np.flatnonzero(valid[:-1] != valid[1:])
    if idx.size:

        def is_valid(t):
            a, b = E_fn(t)
            return np.isfinite(np.asarray(a, dtype=float)) & np.isfinite(np.asarray(b, dtype=float))

        edges_valid = _bisect(is_valid, x[idx], x[idx + 1], valid[idx])
        found += [(float(r), "validity") for r in edges_valid]
    found.sort()
    edges = np.asarray([x[0]] + [r for r, _ in found] + [x[-1]], dtype=float)
    mids = 0.5 * (edges[:-1] + edges[1:])
    mid_pm, mid_mp = E_fn(mids)
    codes = np.asarray(classify(np.asarray(mid_pm), np.asarray(mid_mp), bound)).reshape(-1)

    def name_of(code) -> str:
        return "invalid" if code < 0 else REGIMES[int(code)]

    boundaries = [
        {"x": r, "quantity": q, "regime_below": name_of(codes[i]), "regime_above": name_of(codes[i + 1])}
        for i, (r, q) in enumerate(found)
    ]
    segments = [
        {"x_start": float(edges[i]), "x_end": float(edges[i + 1]), "regime": name_of(codes[i])}
        for i in range(len(codes))
    ]
    return {"boundaries": boundaries, "segments": segments}


def interpolated_crossings(x, y, level: float = STEERING_BOUND, *, log_x: bool = True) -> list[dict]:
    """Where sampled values ``y(x)`` cross ``level``, by linear interpolation between the two
    neighbouring samples (in ``log x`` if ``log_x``); the accuracy is that of the grid (for
    smooth curves, second order in the grid step).  NaN samples are skipped.

    Returns:
        A list of ``{"x": crossing, "rising": bool}`` (rising: y goes from below to above).

    Examples:
        >>> import numpy as np, steerjax as sj
        >>> sj.analysis.interpolated_crossings(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 1.0]), 0.5,
        ...                            log_x=False)
        [{'x': 1.5, 'rising': False}, {'x': 2.5, 'rising': True}]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float) - level
    ok = np.isfinite(y) & np.isfinite(x)
    x, y = x[ok], y[ok]
    t = np.log(x) if log_x else x
    out = []
    for i in np.flatnonzero((y[:-1] < 0) != (y[1:] < 0)):
        s = t[i] + (t[i + 1] - t[i]) * y[i] / (y[i] - y[i + 1])
        out.append({"x": float(math.exp(s) if log_x else s), "rising": bool(y[i] < 0)})
    return out
