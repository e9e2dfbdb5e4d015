"""Figure helpers for the experiment scripts (``experiments/figN_*.py``) and for users.

Import it as ``import steerjax.plotting as sjp`` (it imports matplotlib, so the top-level
``steerjax`` package does not load it on import).  Nothing here uses ``matplotlib.pyplot``:
figures are plain :class:`matplotlib.figure.Figure` objects, so no GUI backend and no global
figure registry are involved, and figures are freed when they go out of scope.

What lives here:

* **Steering plots.**  :func:`regime_map` shades the steering regimes of a 2-D sweep and draws
  the two E = 1/2 contours; :func:`steering_cut` draws E_{+|-}, E_{-|+} and the bare variances
  of a 1-D sweep with the bound 1/2; :func:`regime_legend_handles` and :func:`cut_legend_handles`
  give the matching legend entries.  Colours: :data:`REGIME_COLORS`, :data:`UNSTABLE_COLOR`.
* **Sweeps.**  :func:`steering_sweep` evaluates :func:`steerjax.steering` on broadcast grids of
  designs in one jitted call and returns numpy arrays (NaN and regime -1 where unstable).
* **Level crossings.**  :func:`level_crossings` locates, to rounding level, where a sampled
  function crosses a level (bracketing on the samples, then a batched bisection), e.g. the
  exact regime boundaries E = 1/2 along a cut; :func:`regime_boundaries` does this for both
  directions and names the regime on each side.
* **Output.**  :func:`save_figure` (PNG + PDF), :func:`save_table` (CSV, full float64
  precision), :func:`save_arrays` (NPZ) and :func:`write_metadata` (JSON with the parameters,
  grid sizes, versions, git commit, JAX backend and device, run time; see
  :func:`run_metadata`).  Every file is written atomically: a temporary file in the destination
  folder, renamed into place.
* **Parameters.**  :func:`resolve_parameters` merges a script's defaults, its ``--quick`` grid
  sizes and a user's overrides, rejecting unknown names.
* **Progress.**  :func:`report_progress` forwards ``(done, total)`` to an optional callback, the
  ``progress`` argument of the scripts' ``main`` (``steerjax figures`` draws it as a bar).
* **Optimal steering on grids (Figs. 4-7).**  :func:`optimal_steering_grid` optimises every
  combination of thermal set, loss, coupling, direction and ``C_-`` (one compiled call per
  coupling and direction) into one flat table, with diagnostics: whether the optimum steers,
  whether ``C_+`` sits on its search bound or does not matter at all; :func:`table_rows` selects
  one curve of it and :func:`optimal_grid_summary` condenses it for the JSON files.  Curve
  styles: :data:`OPTIMUM_STYLES` (hot/vacuum-server x asymmetric/symmetric, as in the paper),
  :data:`DIRECTION_LINESTYLES`, :func:`optimum_legend_handles`.
* **Scripts.**  :func:`run_as_script` is the ``if __name__ == "__main__":`` entry point of the
  experiment scripts (``--out``, ``--quick``; float64 on).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from ._io import atomic_write_bytes, write_csv, write_json
from ._measures import REGIMES, classify
from ._optimize import COUPLINGS, DIRECTIONS
from ._params import Design, Thermal, thermal_preset
from ._steering import STEERING_BOUND, steering
from ._sweeps import log_grid, optimal_sweep
from ._version import __version__

__all__ = [
    "REGIME_COLORS",
    "REGIME_LABELS",
    "UNSTABLE_COLOR",
    "UNSTABLE_HATCH",
    "E_LABELS",
    "BARE_LABELS",
    "new_figure",
    "regime_map",
    "regime_legend_handles",
    "steering_cut",
    "cut_legend_handles",
    "regime_strip",
    "log_axis",
    "panel_label",
    "steering_sweep",
    "SWEEP_FIELDS",
    "level_crossings",
    "regime_boundaries",
    "save_figure",
    "save_table",
    "save_arrays",
    "environment_info",
    "git_commit",
    "run_metadata",
    "write_metadata",
    "resolve_parameters",
    "report_progress",
    "ProgressCallback",
    "OPTIMUM_STYLES",
    "DIRECTION_LINESTYLES",
    "THERMAL_LABELS",
    "COUPLING_LABELS",
    "STEERING_MARGIN",
    "optimum_style",
    "optimum_legend_handles",
    "optimum_color_handles",
    "direction_handles",
    "gaps_at_jumps",
    "pale",
    "thermal_batch",
    "optimal_steering_grid",
    "table_rows",
    "optimal_grid_summary",
    "optimal_grid_data",
    "interpolated_crossings",
    "run_as_script",
]

ProgressCallback = Callable[[int, int], None]
"""Signature of a progress callback: ``progress(done, total)``, called after each step."""

# ---------------------------------------------------------------------------------------------
# Colours and labels (the paper's conventions, Figs. 2-3)
# ---------------------------------------------------------------------------------------------

REGIME_COLORS: dict[int, str] = {
    0: "#d4d4d4",  # no steering: neutral light grey
    1: "#f6c3cf",  # one-way client => server (only E_{+|-} < 1/2): light pink
    2: "#1d3c87",  # one-way server => client (only E_{-|+} < 1/2): dark blue
    3: "#ffffff",  # two-way: white
}
"""Fill colour per regime code of :func:`steerjax.classify`: none light grey, one-way
client=>server light pink, one-way server=>client dark blue, two-way white (as in the paper's
Figs. 2-3, where "none" has no stated colour; grey is used here)."""

UNSTABLE_COLOR = "#8a8a8a"
"""Background of dynamically unstable designs (gamma_+ <= 0 or gamma_- <= 0), drawn hatched."""

UNSTABLE_HATCH = "////"

REGIME_LABELS: dict[int, str] = {
    0: "no steering",
    1: r"one-way $-\Rightarrow+$ (client steers server)",
    2: r"one-way $+\Rightarrow-$ (server steers client)",
    3: "two-way",
}
"""Legend text per regime code (mathtext)."""

E_LABELS = {"plus-given-minus": r"$E_{+|-}$", "minus-given-plus": r"$E_{-|+}$"}
BARE_LABELS = {"plus": r"$(\Delta X_{+0})^2$", "minus": r"$(\Delta X_{-0})^2$"}

_E_COLOR = "#1f5fa8"  # thick blue (steering parameters)
_BARE_COLOR = "#e07b18"  # thin orange (bare variances)
_LINESTYLE = {"plus-given-minus": "--", "minus-given-plus": "-"}
_CONTOUR_COLOR = "#000000"


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize=(6.4, 4.8), width_ratios=None, height_ratios=None
) -> tuple[Figure, np.ndarray]:
    """A :class:`~matplotlib.figure.Figure` with a grid of axes (no pyplot; constrained layout).

    Returns ``(figure, axes)`` with ``axes`` always a 2-D array of shape ``(nrows, ncols)``;
    ``width_ratios``/``height_ratios`` set the relative column widths and row heights.

    Example:
        >>> import steerjax.plotting as sjp
        >>> fig, axes = sjp.new_figure(2, 3)
        >>> axes.shape
        (2, 3)
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, width_ratios=width_ratios, height_ratios=height_ratios)
    return fig, axes


def _regime_cmap() -> tuple[ListedColormap, BoundaryNorm]:
    colors = [UNSTABLE_COLOR] + [REGIME_COLORS[k] for k in range(len(REGIMES))]
    cmap = ListedColormap(colors, name="steering-regimes")
    norm = BoundaryNorm(np.arange(-1.5, len(REGIMES), 1.0), cmap.N)
    return cmap, norm


def regime_map(
    ax: Axes,
    x,
    y,
    E_plus_given_minus,
    E_minus_given_plus,
    *,
    bound: float = STEERING_BOUND,
    contours: bool = True,
):
    """Shade the steering regimes of a 2-D sweep and draw the E = ``bound`` contours.

    The fill colour of each grid point is that of its regime (:data:`REGIME_COLORS`);
    points where either E is NaN (unstable or invalid designs, as returned by
    ``steerjax.steering(..., on_invalid="nan")``) are grey and hatched.  The contour
    E_{+|-} = bound is dashed, E_{-|+} = bound solid (the paper's Figs. 2-3).

    Args:
        ax: the axes.
        x: 1-D array of the horizontal coordinate, shape ``(nx,)``.
        y: 1-D array of the vertical coordinate, shape ``(ny,)``.
        E_plus_given_minus, E_minus_given_plus: arrays of shape ``(ny, nx)``.
        bound: the steering bound (1/2).
        contours: draw the two E = bound contours.

    Returns:
        The regime codes of shape ``(ny, nx)`` that were drawn (numpy, -1 for invalid).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    e_pm = np.asarray(E_plus_given_minus, dtype=float)
    e_mp = np.asarray(E_minus_given_plus, dtype=float)
    if e_pm.shape != (y.size, x.size) or e_mp.shape != e_pm.shape:
        raise ValueError(
            f"regime_map: E arrays must have shape (len(y), len(x)) = {(y.size, x.size)}; "
            f"got {e_pm.shape} and {e_mp.shape}"
        )
    codes = np.asarray(classify(e_pm, e_mp, bound))
    cmap, norm = _regime_cmap()
    ax.pcolormesh(x, y, codes, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    invalid = codes < 0
    if invalid.any():
        # Hatch the invalid cells: contourf of the mask draws one patch per connected region.
        hatch = ax.contourf(
            x, y, invalid.astype(float), levels=[0.5, 1.5], colors="none", hatches=[UNSTABLE_HATCH]
        )
        hatch.set_edgecolor("#4a4a4a")
        hatch.set_linewidth(0.0)
    if contours:
        for e, key in ((e_pm, "plus-given-minus"), (e_mp, "minus-given-plus")):
            if np.nanmin(e) < bound < np.nanmax(e):
                ax.contour(
                    x, y, e, levels=[bound], colors=_CONTOUR_COLOR, linestyles=_LINESTYLE[key], linewidths=1.2
                )
    return codes


def regime_legend_handles(*, include_unstable: bool = True, bound: float = STEERING_BOUND) -> list:
    """Legend entries for :func:`regime_map`: the four regimes, the unstable hatch and the two
    contour line styles."""
    handles = [
        Patch(facecolor=REGIME_COLORS[k], edgecolor="#555555", linewidth=0.6, label=REGIME_LABELS[k])
        for k in (3, 1, 2, 0)
    ]
    if include_unstable:
        handles.append(
            Patch(
                facecolor=UNSTABLE_COLOR,
                edgecolor="#4a4a4a",
                hatch=UNSTABLE_HATCH,
                linewidth=0.6,
                label="dynamically unstable",
            )
        )
    handles += [
        Line2D(
            [], [], color=_CONTOUR_COLOR, ls=_LINESTYLE["plus-given-minus"], label=rf"$E_{{+|-}} = {bound:g}$"
        ),
        Line2D(
            [], [], color=_CONTOUR_COLOR, ls=_LINESTYLE["minus-given-plus"], label=rf"$E_{{-|+}} = {bound:g}$"
        ),
    ]
    return handles


def steering_cut(
    ax: Axes,
    x,
    E_plus_given_minus,
    E_minus_given_plus,
    bare_var_plus=None,
    bare_var_minus=None,
    *,
    bound: float = STEERING_BOUND,
    logy: bool = True,
):
    """Plot a 1-D cut: E_{+|-} (thick, dashed), E_{-|+} (thick, solid), the bare variances
    (Delta X_{+0})^2 (thin, dashed) and (Delta X_{-0})^2 (thin, solid) if given (Eq. 9), and the
    bound as a dotted horizontal line.  NaN entries (unstable designs) leave gaps."""
    x = np.asarray(x, dtype=float)
    ax.axhline(bound, color="#444444", lw=0.9, ls=":", zorder=1)
    if bare_var_plus is not None:
        ax.plot(x, np.asarray(bare_var_plus), color=_BARE_COLOR, lw=1.0, ls="--", zorder=2)
    if bare_var_minus is not None:
        ax.plot(x, np.asarray(bare_var_minus), color=_BARE_COLOR, lw=1.0, ls="-", zorder=2)
    ax.plot(x, np.asarray(E_plus_given_minus), color=_E_COLOR, lw=2.2, ls="--", zorder=3)
    ax.plot(x, np.asarray(E_minus_given_plus), color=_E_COLOR, lw=2.2, ls="-", zorder=3)
    if logy:
        log_axis(ax, "y", minor_labels=True)


def cut_legend_handles(*, bare: bool = True, bound: float = STEERING_BOUND) -> list:
    """Legend entries for :func:`steering_cut`."""
    handles = [
        Line2D([], [], color=_E_COLOR, lw=2.2, ls="--", label=E_LABELS["plus-given-minus"]),
        Line2D([], [], color=_E_COLOR, lw=2.2, ls="-", label=E_LABELS["minus-given-plus"]),
    ]
    if bare:
        handles += [
            Line2D([], [], color=_BARE_COLOR, lw=1.0, ls="--", label=BARE_LABELS["plus"]),
            Line2D([], [], color=_BARE_COLOR, lw=1.0, ls="-", label=BARE_LABELS["minus"]),
        ]
    handles.append(Line2D([], [], color="#444444", lw=0.9, ls=":", label=f"bound {bound:g}"))
    return handles


def regime_strip(ax: Axes, x, codes, *, height: float = 0.045) -> None:
    """Draw the regime of each point of a 1-D cut as a thin coloured strip along the bottom
    of ``ax`` (axes-fraction ``height``), so the cut can be read against the map's colours.
    ``x`` must be sorted; segment edges are placed half-way between samples."""
    x = np.asarray(x, dtype=float)
    codes = np.asarray(codes)
    if x.size == 0:
        return
    log = ax.get_xscale() == "log"
    xs = np.log(x) if log else x
    mid = 0.5 * (xs[1:] + xs[:-1])
    edges = np.concatenate([[xs[0]], mid, [xs[-1]]])
    edges = np.exp(edges) if log else edges
    change = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [codes.size]])
    trans = ax.get_xaxis_transform()
    for s, e in zip(starts, ends, strict=True):
        code = int(codes[s])
        color = UNSTABLE_COLOR if code < 0 else REGIME_COLORS[code]
        ax.fill_between(
            [edges[s], edges[e]],
            0.0,
            height,
            transform=trans,
            facecolor=color,
            edgecolor="#555555",
            hatch=UNSTABLE_HATCH if code < 0 else None,
            linewidth=0.4,
            zorder=4,
        )


def _plain_number(value: float, _pos=None) -> str:
    return f"{value:g}"


def _plain_minor(value: float, _pos=None) -> str:
    """Label minor log ticks whose mantissa is 2, 3 or 5 (enough to read a short log axis)."""
    if not value > 0:
        return ""
    mantissa = value / 10.0 ** np.floor(np.log10(value))
    return f"{value:g}" if any(abs(mantissa - m) < 1e-6 for m in (2.0, 3.0, 5.0)) else ""


def log_axis(ax: Axes, which: str = "both", *, minor_labels: bool = False) -> None:
    """Put the ``"x"``, ``"y"`` or ``"both"`` axes of ``ax`` on a log scale with plain tick
    labels (``0.1, 1, 10`` rather than ``10^{-1}``; also faster to draw than mathtext labels);
    minor ticks unlabelled unless ``minor_labels`` (then those at 2, 3 and 5 times a power of
    ten are labelled)."""
    if which not in ("x", "y", "both"):
        raise ValueError(f"which = {which!r} is not allowed; use 'x', 'y' or 'both'")
    if which in ("x", "both"):
        ax.set_xscale("log")
    if which in ("y", "both"):
        ax.set_yscale("log")
    for axis in {"x": [ax.xaxis], "y": [ax.yaxis], "both": [ax.xaxis, ax.yaxis]}[which]:
        axis.set_major_formatter(FuncFormatter(_plain_number))
        axis.set_minor_formatter(FuncFormatter(_plain_minor) if minor_labels else NullFormatter())


def panel_label(ax: Axes, text: str) -> None:
    """Write a panel tag such as ``(a)`` in the upper-left corner of ``ax``."""
    ax.text(
        0.02,
        0.97,
        text,
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontweight="bold",
        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        zorder=10,
    )


# ---------------------------------------------------------------------------------------------
# Batched evaluation of sweeps
# ---------------------------------------------------------------------------------------------

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

    Example:
        >>> import math, numpy as np, steerjax as sj, steerjax.plotting as sjp
        >>> out = sjp.steering_sweep(sj.thermal_preset("hot"), 0.4 * math.pi, 0.35 * math.pi,
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


# ---------------------------------------------------------------------------------------------
# Level crossings (exact regime boundaries)
# ---------------------------------------------------------------------------------------------


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

    Example:
        >>> import numpy as np, steerjax.plotting as sjp
        >>> roots, rising = sjp.level_crossings(lambda t: np.cos(t), np.linspace(0.0, 7.0, 8), 0.0)
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
        ``regime_below`` and ``regime_above`` (names from :data:`steerjax.REGIMES`, for the
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


# ---------------------------------------------------------------------------------------------
# Output: figures, tables, arrays and metadata (all atomic)
# ---------------------------------------------------------------------------------------------


def save_figure(
    fig: Figure,
    out_dir: str | os.PathLike,
    name: str,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
) -> list[Path]:
    """Save ``fig`` as ``<out_dir>/<name>.<fmt>`` for each format, atomically.

    Returns the paths written.  PNGs are rendered at ``dpi`` (150 by default: small files,
    readable on screen); PDFs are vector graphics (maps are embedded as raster images).
    """
    paths = []
    engine = fig.get_layout_engine()
    try:
        for k, fmt in enumerate(formats):
            buf = io.BytesIO()
            key = "Software" if fmt == "png" else "Creator"
            fig.savefig(buf, format=fmt, dpi=dpi, metadata={key: f"steerjax {__version__}"})
            paths.append(atomic_write_bytes(Path(out_dir) / f"{name}.{fmt}", buf.getvalue()))
            if k == 0 and engine is not None:
                # The layout is settled by the first rendering; do not recompute it for the others.
                fig.set_layout_engine("none")
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
    return paths


def save_table(out_dir: str | os.PathLike, name: str, columns: Mapping[str, Sequence]) -> Path:
    """Write ``<out_dir>/<name>.csv`` from named 1-D columns (floats at full precision), atomically."""
    return write_csv(Path(out_dir) / f"{name}.csv", columns)


def save_arrays(out_dir: str | os.PathLike, name: str, arrays: Mapping[str, object]) -> Path:
    """Write ``<out_dir>/<name>.npz`` (uncompressed numpy archive of named arrays), atomically.
    Read it back with ``numpy.load``."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(Path(out_dir) / f"{name}.npz", buf.getvalue())


def git_commit(path: str | os.PathLike | None = None) -> dict[str, object] | None:
    """The git commit of the checkout containing ``path`` (default: the steerjax package), as
    ``{"commit": sha, "dirty": bool}`` (dirty: tracked files differ from the commit), or
    ``None`` outside a git checkout or without git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = None if status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": sha.stdout.strip(), "dirty": dirty}


def environment_info(path: str | os.PathLike | None = None) -> dict[str, object]:
    """Where a result was computed: steerjax, JAX, numpy and matplotlib versions, the JAX
    backend and devices, whether float64 is enabled, Python, platform, the git commit (see
    :func:`git_commit`; ``path`` locates the checkout) and the UTC time."""
    import jax

    try:
        devices = [str(d) for d in jax.devices()]
        backend = jax.default_backend()
    except RuntimeError as exc:  # no usable backend
        devices, backend = [], f"unavailable ({exc})"
    git = git_commit(path)
    return {
        "steerjax_version": __version__,
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "jax_version": jax.__version__,
        "jax_backend": backend,
        "jax_devices": devices,
        "jax_x64": bool(jax.config.jax_enable_x64),
        "numpy_version": np.__version__,
        "matplotlib_version": matplotlib.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def run_metadata(
    *,
    figure: str,
    title: str,
    parameters: Mapping[str, object],
    grid: Mapping[str, object],
    quick: bool,
    runtime_s: Mapping[str, float],
    files: Sequence[str | os.PathLike] = (),
    results: Mapping[str, object] | None = None,
    script: str | os.PathLike | None = None,
) -> dict[str, object]:
    """The metadata record of one figure run (what :func:`write_metadata` stores).

    Keys: ``figure``, ``title``, ``script`` (file name), ``quick``, ``parameters`` (every
    physical and numerical parameter used), ``grid`` (grid sizes), ``results`` (derived numbers
    worth keeping, e.g. exact boundaries), ``files`` (file names written), ``runtime_s`` (wall
    times in seconds), then everything of :func:`environment_info`.
    """
    return {
        "figure": figure,
        "title": title,
        "script": Path(script).name if script is not None else None,
        "quick": bool(quick),
        "parameters": dict(parameters),
        "grid": dict(grid),
        "results": dict(results or {}),
        "files": [Path(f).name for f in files],
        "runtime_s": {k: round(float(v), 4) for k, v in runtime_s.items()},
        **environment_info(script),
    }


def write_metadata(out_dir: str | os.PathLike, name: str, metadata: Mapping[str, object]) -> Path:
    """Write ``<out_dir>/<name>.json`` atomically (numpy/JAX arrays become lists)."""
    return write_json(Path(out_dir) / f"{name}.json", dict(metadata))


def resolve_parameters(
    figure: str,
    defaults: Mapping[str, object],
    overrides: Mapping[str, object],
    *,
    quick: bool = False,
    quick_defaults: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The parameters of a figure run: ``defaults``, then ``quick_defaults`` if ``quick``, then
    the user's ``overrides`` (which win, also over the quick grid sizes).

    Raises:
        ValueError: an override names no known parameter (the message lists the known ones).

    Example:
        >>> import steerjax.plotting as sjp
        >>> sjp.resolve_parameters("figX", {"n": 101, "c": 50.0}, {"c": 30.0}, quick=True,
        ...                        quick_defaults={"n": 11})
        {'n': 11, 'c': 30.0}
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"{figure}: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(defaults)}"
        )
    params = dict(defaults)
    if quick and quick_defaults:
        params.update(quick_defaults)
    params.update(overrides)
    return params


def report_progress(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if a callback is given (scripts call this after each step)."""
    if progress is not None:
        progress(int(done), int(total))


# ---------------------------------------------------------------------------------------------
# Optimal steering on grids of C_- (Figs. 4-7)
# ---------------------------------------------------------------------------------------------

OPTIMUM_STYLES: dict[tuple[str, str], dict[str, object]] = {
    ("hot", "asymmetric"): {"color": _E_COLOR, "lw": 2.2},  # thick blue
    ("vacuum-server", "asymmetric"): {"color": _BARE_COLOR, "lw": 2.2},  # thick orange
    ("hot", "symmetric"): {"color": "#c62828", "lw": 1.1},  # thin red
    ("vacuum-server", "symmetric"): {"color": "#111111", "lw": 1.1},  # thin black
}
"""Line colour and width per (thermal preset, coupling), as in the paper's Figs. 4, 6, 7: f != 0
(asymmetric) thick blue for the hot set and thick orange for the vacuum server, f = 0
(symmetric) thin red and thin black."""

DIRECTION_LINESTYLES: dict[str, str] = dict(_LINESTYLE)
"""E_{+|-} (client steers server) dashed, E_{-|+} solid -- as throughout the paper."""

THERMAL_LABELS: dict[str, str] = {"hot": "hot", "vacuum-server": "vacuum server"}
COUPLING_LABELS: dict[str, str] = {"asymmetric": r"$f \neq 0$", "symmetric": r"$f = 0$"}

STEERING_MARGIN = 1e-12
"""An optimum counts as steering when E < 1/2 - STEERING_MARGIN: values within rounding of 1/2
(e.g. E_{+|-} = 1/2 exactly for a vacuum server at theta_+ = pi/2, whatever C_+) do not."""

_THERMAL_FIELDS = ("gamma0_plus_hz", "nbar_plus", "gamma0_minus_hz", "nbar_minus")


def _preset_key(name) -> str:
    return str(name).strip().lower().replace("_", "-")


def optimum_style(thermal: str, coupling: str) -> dict[str, object]:
    """Matplotlib keywords (``color``, ``lw``) of an optimum curve (:data:`OPTIMUM_STYLES`)."""
    return dict(OPTIMUM_STYLES.get((_preset_key(thermal), coupling), {"color": "#555555", "lw": 1.5}))


def optimum_color_handles(thermal_sets: Sequence[str], couplings: Sequence[str] = COUPLINGS) -> list:
    """Legend entries for the colours of optimum curves: one per (thermal set, coupling)."""
    return [
        Line2D(
            [],
            [],
            ls="-",
            **optimum_style(t, c),
            label=f"{THERMAL_LABELS.get(_preset_key(t), t)}, {COUPLING_LABELS[c]}",
        )
        for c in couplings
        for t in thermal_sets
    ]


def direction_handles(directions: Sequence[str] = DIRECTIONS, *, bound: bool = True) -> list:
    """Legend entries for the line styles of optimum curves (one per direction, black) and the
    steering bound (dotted) if ``bound``."""
    handles = [
        Line2D([], [], color="#333333", lw=1.4, ls=DIRECTION_LINESTYLES[d], label=f"optimal {E_LABELS[d]}")
        for d in directions
    ]
    if bound:
        handles.append(Line2D([], [], color="#444444", lw=0.9, ls=":", label=f"bound {STEERING_BOUND:g}"))
    return handles


def optimum_legend_handles(
    thermal_sets: Sequence[str],
    couplings: Sequence[str] = COUPLINGS,
    directions: Sequence[str] = DIRECTIONS,
    *,
    bound: bool = True,
) -> list:
    """Legend entries for optimum curves: :func:`optimum_color_handles` then
    :func:`direction_handles`."""
    return optimum_color_handles(thermal_sets, couplings) + direction_handles(directions, bound=bound)


def pale(color, strength: float = 0.3) -> tuple[float, float, float]:
    """``color`` mixed with white: ``strength`` 1 keeps it, 0 gives white.  Unlike transparency,
    overlapping pale curves do not add up to a dark one.

    Example:
        >>> import steerjax.plotting as sjp
        >>> sjp.pale("#000000", 0.25)
        (0.75, 0.75, 0.75)
    """
    from matplotlib.colors import to_rgb

    s = float(strength)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"pale: strength = {strength!r} is outside the allowed range [0, 1]")
    return tuple(float(1.0 - s + s * c) for c in to_rgb(color))


def gaps_at_jumps(x, y, max_jump: float, *, log: bool = False, by=None) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN between neighbouring samples that differ by more than ``max_jump``, so that
    a plotted curve shows a gap at a discontinuity -- e.g. where an optimum switches between
    two local optima -- instead of a steep line.

    The jumps are looked for in ``y`` (in ``log10 y`` if ``log``), or in ``by`` if given: an
    array or a sequence of arrays of the same length (a jump in any of them counts), e.g. the
    optimal angles when ``y`` is another property of the same optima.

    Returns:
        ``(x, y)`` with NaN inserted (in both) at every jump.

    Example:
        >>> import numpy as np, steerjax.plotting as sjp
        >>> sjp.gaps_at_jumps(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.1, 1.0]), 0.5)[1].tolist()
        [0.0, 0.1, nan, 1.0]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if by is None:
        series = [np.log10(y) if log else y]
    else:
        series = [np.asarray(b, dtype=float) for b in (by if isinstance(by, (list, tuple)) else [by])]
    jump = np.zeros(max(x.size - 1, 0), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for v in series:
            if v.shape != x.shape:
                raise ValueError(f"gaps_at_jumps: a series has shape {v.shape}, expected {x.shape}")
            jump |= np.abs(np.diff(v)) > max_jump
    cut = np.flatnonzero(jump) + 1
    return np.insert(x, cut, np.nan), np.insert(y, cut, np.nan)


def thermal_batch(names: Sequence[str]) -> Thermal:
    """The presets ``names`` (see :func:`steerjax.thermal_preset`) stacked into one
    :class:`~steerjax.Thermal` with a leading axis of length ``len(names)``.

    Example:
        >>> import steerjax.plotting as sjp
        >>> sjp.thermal_batch(["hot", "vacuum-server"]).nbar_plus.tolist()
        [100000.0, 0.0]
    """
    presets = [thermal_preset(n) for n in names]
    return Thermal(**{f: jnp.stack([jnp.asarray(getattr(p, f)) for p in presets]) for f in _THERMAL_FIELDS})


def _grid_inputs(figure, thermal_sets, eps_values, C_minus, couplings, directions, n_starts):
    """Plain checks of :func:`optimal_steering_grid`'s arguments (ValueError naming each)."""

    def bad(name, value, allowed):
        raise ValueError(f"{figure}: {name} = {value!r} is outside the allowed range {allowed}")

    names = [thermal_sets] if isinstance(thermal_sets, str) else list(np.atleast_1d(thermal_sets))
    if not names:
        bad("thermal_sets", thermal_sets, "one or more preset names")
    for n in names:
        try:
            thermal_preset(n)
        except ValueError:
            bad("thermal_sets", thermal_sets, "preset names 'hot', 'vacuum-server'")
    names = [_preset_key(n) for n in names]
    if len(set(names)) != len(names):
        bad("thermal_sets", thermal_sets, "distinct preset names")
    try:
        eps = np.atleast_1d(np.asarray(eps_values, dtype=float))
    except (TypeError, ValueError):
        bad("eps_values", eps_values, "one or more losses in [0, 1)")
    if eps.ndim != 1 or eps.size == 0 or np.any(~((eps >= 0) & (eps < 1))):
        bad("eps_values", eps_values, "one or more losses in [0, 1)")
    try:
        C = np.atleast_1d(np.asarray(C_minus, dtype=float))
    except (TypeError, ValueError):
        bad("C_minus", C_minus, "one or more values in (0, inf)")
    if C.ndim != 1 or C.size == 0 or np.any(~((C > 0) & np.isfinite(C))):
        bad("C_minus", C_minus, "one or more values in (0, inf)")
    chosen = {}
    for name, given, allowed in (("couplings", couplings, COUPLINGS), ("directions", directions, DIRECTIONS)):
        items = [given] if isinstance(given, str) else list(given)
        if not items or any(x not in allowed for x in items) or len(set(items)) != len(items):
            bad(name, given, f"a selection of {allowed}")
        chosen[name] = items
    try:
        whole = int(n_starts) == n_starts
    except (TypeError, ValueError):
        whole = False
    if not whole or int(n_starts) < 1:
        bad("n_starts", n_starts, "integers >= 1")
    return names, eps, C, chosen["couplings"], chosen["directions"]


def optimal_steering_grid(
    thermal_sets: Sequence[str],
    eps_values,
    C_minus,
    *,
    couplings: Sequence[str] = COUPLINGS,
    directions: Sequence[str] = DIRECTIONS,
    n_starts: int = 8,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    figure: str = "optimal_steering_grid",
) -> dict[str, np.ndarray]:
    """Optimal steering for every thermal set x loss x coupling x direction x C_- (Figs. 4-7).

    For each (coupling, direction) one :func:`steerjax.optimal_sweep` solves the whole grid of
    (thermal set, eps, C_-) at once -- one compilation per (coupling, direction), shared by
    every later call in the process with any grid size.  Each optimum minimises E of its
    direction over theta_+, theta_- (tied for symmetric coupling) and C_+ within the default
    bounds C_+/C_- in [1e-3, 1e3], at fixed C_- and eps (Sec. V).

    Args:
        thermal_sets: preset names (``"hot"``, ``"vacuum-server"``).
        eps_values: transmission losses in [0, 1).
        C_minus: client cooperativities (1-D).
        couplings, directions: which of :data:`steerjax.COUPLINGS` / :data:`steerjax.DIRECTIONS`.
        n_starts, seed: as for :func:`steerjax.optimize`.
        progress: optional ``progress(done, total)`` over all optima.
        figure: name used in error messages.

    Returns:
        A flat table (column name -> 1-D numpy array, one row per optimum, C_- varying fastest,
        then eps, thermal set, direction, coupling): ``thermal`` (preset name), every column of
        :meth:`steerjax.OptimalSweep.table` (``C_minus, eps``, the thermal values, ``coupling,
        direction, E, E_plus_given_minus, E_minus_given_plus, theta_plus, theta_minus`` [rad],
        ``C_plus, C_plus_over_C_minus, gamma_plus_hz, gamma_minus_hz, converged,
        at_stability_edge, grad_norm, steps``), then diagnostics evaluated at the optimal design
        with :func:`steerjax.steering`: ``f`` (= 2R/gamma_+), ``bare_var_plus``,
        ``bare_var_minus`` (Eq. 9), ``C_plus_irrelevant`` (E changes by less than 1e-9
        relative when C_+ is doubled or halved at the same angles: C_+ is not determined, e.g.
        theta = pi/2 with symmetric coupling), ``steers`` (E < 1/2 - :data:`STEERING_MARGIN`)
        and ``C_plus_at_bound`` (C_+ within 1e-6 of a search bound: the optimum lies beyond it).

    Raises:
        ValueError: an argument outside its allowed range (named as the figure's parameter).

    Example:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> import steerjax.plotting as sjp
        >>> t = sjp.optimal_steering_grid(["hot"], [0.0], [10.0], couplings=["asymmetric"],
        ...                               directions=["plus-given-minus"])
        >>> round(float(t["E"][0]), 4), bool(t["steers"][0]), bool(t["at_stability_edge"][0])
        (0.285, True, True)
    """
    names, eps, C, couplings, directions = _grid_inputs(
        figure, thermal_sets, eps_values, C_minus, couplings, directions, n_starts
    )
    thermal = thermal_batch(names)
    thermal = Thermal(**{f: getattr(thermal, f)[:, None, None] for f in _THERMAL_FIELDS})
    per_config = len(names) * eps.size * C.size
    configs = [(c, d) for c in couplings for d in directions]
    total = len(configs) * per_config
    report_progress(progress, 0, total)
    parts, lower, upper = [], [], []
    for k, (coupling, direction) in enumerate(configs):

        def relay(done, _n, k=k):
            report_progress(progress, k * per_config + done, total)

        sweep = optimal_sweep(
            thermal,
            C[None, None, :],
            eps=eps[None, :, None],
            coupling=coupling,
            direction=direction,
            n_starts=int(n_starts),
            seed=int(seed),
            progress=None if progress is None else relay,
        )
        table = sweep.table()
        parts.append({"thermal": np.repeat(np.asarray(names, dtype=object), eps.size * C.size), **table})
        bounds = np.asarray(sweep.problem.C_plus_bounds).reshape(-1, 2)
        lower.append(bounds[:, 0])
        upper.append(bounds[:, 1])
        report_progress(progress, (k + 1) * per_config, total)
    table = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    table.update(_optimum_diagnostics(table, np.concatenate(lower), np.concatenate(upper)))
    return table


_CHUNK = 4096


def _steering_in_chunks(thermal: Thermal, *columns: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`steering_sweep` of 1-D design columns in chunks of exactly :data:`_CHUNK` points
    (the last one padded), so that every call, whatever the number of rows, reuses one
    compilation."""
    n = columns[0].size
    pieces = []
    for start in range(0, max(n, 1), _CHUNK):
        chunk = [c[start : start + _CHUNK] for c in columns]
        pad = _CHUNK - chunk[0].size
        chunk = [np.concatenate([c, np.full(pad, c[-1] if c.size else 1.0)]) for c in chunk]
        pieces.append(steering_sweep(thermal, *chunk))
    return {k: np.concatenate([p[k] for p in pieces])[:n] for k in pieces[0]}


def _optimum_diagnostics(table: Mapping[str, np.ndarray], lower, upper) -> dict[str, np.ndarray]:
    """f, bare variances and the flags of :func:`optimal_steering_grid`, per row."""
    n = table["E"].size
    out = {
        "f": np.full(n, np.nan),
        "bare_var_plus": np.full(n, np.nan),
        "bare_var_minus": np.full(n, np.nan),
        "C_plus_irrelevant": np.zeros(n, dtype=bool),
    }
    plus = np.asarray(table["direction"]) == "plus-given-minus"
    for name in dict.fromkeys(table["thermal"]):
        rows = np.flatnonzero(np.asarray(table["thermal"]) == name)
        m = rows.size
        tp, tm, Cp, Cm, eps = (
            np.asarray(table[k][rows], dtype=float)
            for k in ("theta_plus", "theta_minus", "C_plus", "C_minus", "eps")
        )
        # The optimum, and C_+ doubled and halved at the same angles.
        both = _steering_in_chunks(
            thermal_preset(name),
            np.tile(tp, 3),
            np.tile(tm, 3),
            np.concatenate([Cp, 2.0 * Cp, 0.5 * Cp]),
            np.tile(Cm, 3),
            np.tile(eps, 3),
        )
        for key in ("f", "bare_var_plus", "bare_var_minus"):
            out[key][rows] = both[key][:m]
        E_dir = np.where(np.tile(plus[rows], 3), both["E_plus_given_minus"], both["E_minus_given_plus"])
        E_dir = E_dir.reshape(3, m)
        with np.errstate(invalid="ignore"):
            flat = np.all(np.abs(E_dir[1:] - E_dir[0]) <= 1e-9 * np.abs(E_dir[0]), axis=0)
        out["C_plus_irrelevant"][rows] = flat & np.all(np.isfinite(E_dir), axis=0)
    E = np.asarray(table["E"], dtype=float)
    out["steers"] = E < STEERING_BOUND - STEERING_MARGIN
    Cp = np.asarray(table["C_plus"], dtype=float)
    out["C_plus_at_bound"] = (Cp >= upper * (1.0 - 1e-6)) | (Cp <= lower * (1.0 + 1e-6))
    return out


def optimal_grid_data(figure: str, params: Mapping[str, object], *, progress=None) -> dict:
    """The data dict of Figs. 4, 6 and 7 from their resolved parameters (``thermal_sets``,
    ``eps_values``, ``C_minus_range``, ``n_C``, ``n_starts``): every optimum of
    :func:`optimal_steering_grid` on the log grid of C_-, with grid sizes and
    :func:`optimal_grid_summary`.

    Returns:
        A dict with ``figure``, ``parameters``, ``grid``, ``thermal_sets``, ``eps_values``,
        ``C_minus`` (the grid), ``table`` (one row per optimum, angles in rad) and ``summary``.
    """
    C = log_grid(*(float(v) for v in params["C_minus_range"]), int(params["n_C"]))
    table = optimal_steering_grid(
        params["thermal_sets"],
        params["eps_values"],
        C,
        n_starts=params["n_starts"],
        progress=progress,
        figure=figure,
    )
    thermal_sets = list(dict.fromkeys(table["thermal"]))
    eps_values = list(dict.fromkeys(float(e) for e in table["eps"]))
    return {
        "figure": figure,
        "parameters": dict(params),
        "grid": {
            "C_minus": int(C.size),
            "thermal_sets": len(thermal_sets),
            "eps_values": len(eps_values),
            "couplings": 2,
            "directions": 2,
            "optima": int(table["E"].size),
        },
        "thermal_sets": thermal_sets,
        "eps_values": eps_values,
        "C_minus": C,
        "table": table,
        "summary": optimal_grid_summary(table),
    }


def table_rows(table: Mapping[str, np.ndarray], **where) -> dict[str, np.ndarray]:
    """The rows of a flat table whose columns equal the given values (e.g.
    ``thermal="hot", eps=0.2, coupling="asymmetric", direction="plus-given-minus"``), as a new
    table in the original order.

    Example:
        >>> import numpy as np, steerjax.plotting as sjp
        >>> t = {"a": np.array(["x", "y", "x"], dtype=object), "b": np.arange(3)}
        >>> sjp.table_rows(t, a="x")["b"].tolist()
        [0, 2]
    """
    unknown = sorted(set(where) - set(table))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ValueError(f"table_rows: no column {names}; columns: {', '.join(table)}")
    mask = np.ones(len(next(iter(table.values()))), dtype=bool)
    for key, value in where.items():
        mask &= np.asarray(table[key]) == value
    return {k: np.asarray(v)[mask] for k, v in table.items()}


def interpolated_crossings(x, y, level: float = STEERING_BOUND, *, log_x: bool = True) -> list[dict]:
    """Where sampled values ``y(x)`` cross ``level``, by linear interpolation between the two
    neighbouring samples (in ``log x`` if ``log_x``); the accuracy is that of the grid (for
    smooth curves, second order in the grid step).  NaN samples are skipped.

    Returns:
        A list of ``{"x": crossing, "rising": bool}`` (rising: y goes from below to above).

    Example:
        >>> import numpy as np, steerjax.plotting as sjp
        >>> sjp.interpolated_crossings(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 1.0]), 0.5,
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


def _rounded_list(values, digits: int = 4) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float)]


def _angle_jumps(C, theta_plus, theta_minus, threshold: float) -> list[dict]:
    """Places where an optimal angle jumps by more than ``threshold`` [rad] between neighbouring
    grid points (a switch between two local optima: a kink in E)."""
    jumps = []
    for i in range(len(C) - 1):
        d_plus = float(theta_plus[i + 1] - theta_plus[i])
        d_minus = float(theta_minus[i + 1] - theta_minus[i])
        if max(abs(d_plus), abs(d_minus)) > threshold:
            jumps.append(
                {
                    "C_minus_between": _rounded_list([C[i], C[i + 1]], 5),
                    "theta_plus_over_pi": _rounded_list(
                        [theta_plus[i] / math.pi, theta_plus[i + 1] / math.pi]
                    ),
                    "theta_minus_over_pi": _rounded_list(
                        [theta_minus[i] / math.pi, theta_minus[i + 1] / math.pi]
                    ),
                }
            )
    return jumps


def optimal_grid_summary(table: Mapping[str, np.ndarray], *, jump_threshold: float = 0.05 * math.pi) -> list:
    """Condensed results of :func:`optimal_steering_grid`, one dict per curve (thermal set, eps,
    coupling, direction), for a figure's JSON file.

    Each dict has the curve's identity, ``n``, ``n_steering``, ``steering_threshold_C_minus``
    (where the optimal E crosses 1/2 - :data:`STEERING_MARGIN`, interpolated on the grid in
    log C_-; empty if it never does), E, C_+/C_- and the angles (in units of pi) at the smallest
    and largest C_-, and the diagnostics: the C_- where the optimiser reported ``converged =
    False`` (with E and the gradient norm), how many optima sit at the stability edge, the C_-
    where C_+ is on its search bound or irrelevant, and jumps of the optimal angles by more than
    ``jump_threshold`` [rad] between neighbouring C_- (switches between local optima, which make
    kinks in E).
    """
    keys = ("thermal", "eps", "coupling", "direction")
    combos = list(dict.fromkeys(zip(*(np.asarray(table[k]).tolist() for k in keys), strict=True)))
    summary = []
    for thermal, eps, coupling, direction in combos:
        t = table_rows(table, thermal=thermal, eps=eps, coupling=coupling, direction=direction)
        C, E = t["C_minus"], t["E"]
        nc = ~t["converged"]
        ends = {}
        for label, i in (("at_C_minus_min", 0), ("at_C_minus_max", -1)):
            ends[label] = {
                "C_minus": float(C[i]),
                "E": float(E[i]),
                "E_plus_given_minus": float(t["E_plus_given_minus"][i]),
                "E_minus_given_plus": float(t["E_minus_given_plus"][i]),
                "C_plus_over_C_minus": float(t["C_plus_over_C_minus"][i]),
                "theta_plus_over_pi": float(t["theta_plus"][i] / math.pi),
                "theta_minus_over_pi": float(t["theta_minus"][i] / math.pi),
                "f": float(t["f"][i]),
            }
        summary.append(
            {
                "thermal": str(thermal),
                "eps": float(eps),
                "coupling": str(coupling),
                "direction": str(direction),
                "n": int(C.size),
                "n_steering": int(np.sum(t["steers"])),
                "steering_threshold_C_minus": [
                    c["x"] for c in interpolated_crossings(C, E, STEERING_BOUND - STEERING_MARGIN)
                ],
                **ends,
                "not_converged": {
                    "C_minus": _rounded_list(C[nc]),
                    "E": _rounded_list(E[nc], 6),
                    "grad_norm": _rounded_list(t["grad_norm"][nc], 3),
                },
                "n_at_stability_edge": int(np.sum(t["at_stability_edge"])),
                "n_steering_at_stability_edge": int(np.sum(t["at_stability_edge"] & t["steers"])),
                "C_plus_at_bound_C_minus": _rounded_list(C[t["C_plus_at_bound"]]),
                "n_steering_with_C_plus_at_bound": int(np.sum(t["C_plus_at_bound"] & t["steers"])),
                "C_plus_irrelevant_C_minus": _rounded_list(C[t["C_plus_irrelevant"]]),
                "angle_jumps": _angle_jumps(C, t["theta_plus"], t["theta_minus"], jump_threshold),
            }
        )
    return summary


# ---------------------------------------------------------------------------------------------
# Script entry point
# ---------------------------------------------------------------------------------------------


def run_as_script(main: Callable[..., dict], figure: str, doc: str | None, argv: Sequence[str] | None = None):
    """The ``if __name__ == "__main__":`` block of an experiment script: parse ``--out`` and
    ``--quick``, switch JAX to float64 (scripts never do that on import), run ``main`` and print
    what was written.  Returns the metadata ``main`` returned.

    Usage (last lines of ``experiments/figN_*.py``)::

        if __name__ == "__main__":
            sjp.run_as_script(main, FIGURE, __doc__)
    """
    parser = argparse.ArgumentParser(description=(doc or figure).split("\n")[0])
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--quick", action="store_true", help="coarse grids (seconds)")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    meta = main(args.out, quick=args.quick)
    print(f"{figure}: wrote {', '.join(meta['files'])} to {args.out} in {meta['runtime_s']['total']:.1f} s")
    return meta
