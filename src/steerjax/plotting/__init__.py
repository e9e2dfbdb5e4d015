"""Plotting (matplotlib) in the paper's conventions, and the runner of the figure scripts in
``experiments/``.  Importing this subpackage imports matplotlib; ``import steerjax`` does not."""

from .._figures import (
    FigureOutcome,
    FigureScript,
    describe_figures,
    discover_figures,
    experiments_dir,
    figures_summary,
    load_figure_module,
    parse_override,
    run_figure,
    run_figures,
    select_figures,
)
from ._fronts import fronts_figure, plot_fronts
from ._style import *  # noqa: F403  (the style module's __all__)
from ._style import __all__ as _style_all

__all__ = [
    *_style_all,
    "plot_fronts",
    "fronts_figure",
    "FigureScript",
    "FigureOutcome",
    "experiments_dir",
    "discover_figures",
    "select_figures",
    "load_figure_module",
    "run_figure",
    "run_figures",
    "parse_override",
    "describe_figures",
    "figures_summary",
]
