"""Matplotlib helpers for the figures of the paper (the experiment scripts use them; so can users).

Import it as ``import steerjax.plotting as sjp`` (it imports matplotlib, so the top-level
``steerjax`` package does not load it on import).  Nothing here uses ``matplotlib.pyplot``:
figures are plain :class:`matplotlib.figure.Figure` objects, so no GUI backend and no global
figure registry are involved, and figures are freed when they go out of scope.  Nothing here
computes physics: the data come from the library (:func:`steerjax.steering_sweep`,
:func:`steerjax.analysis.regime_boundaries`, :func:`steerjax.optimal_steering_grid`, ...).

What lives here:

* **Steering plots.**  :func:`regime_map` shades the steering regimes of a 2-D sweep and draws
  the two E = 1/2 contours; :func:`steering_cut` draws E_{+|-}, E_{-|+} and the bare variances
  of a 1-D sweep with the bound 1/2; :func:`regime_legend_handles` and :func:`cut_legend_handles`
  give the matching legend entries.  Colours: :data:`REGIME_COLORS`, :data:`UNSTABLE_COLOR`.
* **Axes.**  :func:`new_figure`, :func:`log_axis`, :func:`panel_label`, :func:`regime_strip`.
* **Saving.**  :func:`save_figure` (PNG + PDF), written atomically: a temporary file in the
  destination folder, renamed into place.
* **Optimum curves (Figs. 4-7).**  Styles :data:`OPTIMUM_STYLES` (hot/vacuum-server x
  asymmetric/symmetric, as in the paper), :data:`DIRECTION_LINESTYLES`,
  :func:`optimum_legend_handles`; :func:`pale` and :func:`gaps_at_jumps` for drawing them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from .._io import atomic_write_bytes
from .._validation import DIRECTIONS
from .._version import __version__
from ..analysis._optimal_grid import _preset_key
from ..model._measures import REGIMES, classify
from ..model._steering import STEERING_BOUND
from ..optim._problem import COUPLINGS

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
    "save_figure",
    "OPTIMUM_STYLES",
    "DIRECTION_LINESTYLES",
    "THERMAL_LABELS",
    "COUPLING_LABELS",
    "optimum_style",
    "optimum_legend_handles",
    "optimum_color_handles",
    "direction_handles",
    "gaps_at_jumps",
    "pale",
]

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

    Examples:
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
# Saving a figure (atomic)
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


# ---------------------------------------------------------------------------------------------
# Curves of optimal steering (Figs. 4-7)
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

    Examples:
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

    Examples:
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
