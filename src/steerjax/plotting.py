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
"""

from __future__ import annotations

import datetime as _dt
import io
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
from ._params import Design, Thermal
from ._steering import STEERING_BOUND, steering
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
