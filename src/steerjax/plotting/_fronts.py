"""The trade-off between the two steering directions (issue 12): the Pareto and asymmetry
fronts of :func:`steerjax.pareto_front` in the (E_{+|-}, E_{-|+}) plane."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model._steering import STEERING_BOUND
from ._style import new_figure

__all__ = ["plot_fronts", "fronts_figure"]


def plot_fronts(ax: Axes, fronts) -> None:
    """Draw both fronts of a :class:`steerjax.Fronts` on ``ax``: the Pareto front (solid), the
    asymmetry front (dashed), the two single-direction optima (markers) and the steering bound
    E = 1/2 of each direction (dotted)."""
    p, a = fronts.pareto, fronts.asymmetry
    ax.plot(p.E_plus_given_minus, p.E_minus_given_plus, "-", color="C0", lw=2, label="Pareto front")
    ax.plot(a.E_plus_given_minus, a.E_minus_given_plus, "--", color="C3", lw=2, label="asymmetry front")
    for r, marker, label in (
        (fronts.plus_optimum, "o", "optimum of $E_{+|-}$"),
        (fronts.minus_optimum, "s", "optimum of $E_{-|+}$"),
    ):
        ax.plot(float(r.E_plus_given_minus), float(r.E_minus_given_plus), marker, color="k", label=label)
    ax.axvline(STEERING_BOUND, color="0.5", ls=":", lw=1)
    ax.axhline(STEERING_BOUND, color="0.5", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(r"$E_{+|-}$ (client $\Rightarrow$ server)")
    ax.set_ylabel(r"$E_{-|+}$ (server $\Rightarrow$ client)")
    ax.legend(loc="upper left", fontsize="small")


def fronts_figure(fronts, title: str | None = None) -> Figure:
    """A one-panel figure of :func:`plot_fronts` (no pyplot)."""
    fig, axes = new_figure(figsize=(5.6, 4.4))
    plot_fronts(axes[0, 0], fronts)
    if title:
        axes[0, 0].set_title(title, fontsize="medium")
    return fig
