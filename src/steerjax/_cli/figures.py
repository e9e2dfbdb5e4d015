"""``steerjax figures``: reproduce the paper's figures, with their data, into one folder.

::

    steerjax figures [--only N ...] [--out DIR] [--quick] [--quiet]
                     [--experiments DIR] [--set KEY=VALUE ...] [--list]

Runs the experiment scripts ``figN_<what>.py`` (found by :func:`steerjax.plotting.discover_figures`: the
checkout's ``experiments/`` folder, or the copy packaged with the wheel) one after the other.
Each writes its figure (PNG and PDF), the plotted data (CSV or NPZ) and a JSON file of
parameters and provenance into ``--out``.  A progress bar per figure is drawn on stderr when
it is a terminal (not with ``--quiet``); a summary of the files written goes to stdout.  A
failing figure is reported (exit status 1) and the others still run.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import steerjax as sj

from .. import _figures
from ..io._console import Progress
from ..io._text import ANGLE_FORMS
from ._messages import InputError, UsageError, command, error, print_stdout, wrap
from ._numbers import argument

__all__ = ["register"]

_EPILOG = """\
examples:
  steerjax figures                          all figures into ./figures
  steerjax figures --only 2 3 --quick       Figs. 2 and 3 on coarse grids (seconds)
  steerjax figures --only 2 --set theta_minus=0.3pi --out fig2-variant
                                            Fig. 2 with another client angle
  steerjax figures --list                   the figures available and their parameters

Every figure writes figN.png, figN.pdf, its data (figN_*.csv / figN_*.npz) and figN.json
(parameters, grid sizes, steerjax version, git commit, JAX backend and device, run time).
"""


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``figures`` command."""
    parser = subparsers.add_parser(
        "figures",
        help="reproduce the paper's figures (PNG, PDF, data, metadata) into a folder",
        description=wrap(
            "Reproduce the figures of the paper's main text, each with the data plotted and a "
            "JSON file of its parameters and provenance, by running the experiment scripts "
            "figN_<what>.py one after the other.  A failing figure is reported (exit status 1) "
            "and the others still run."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="N",
        help="only these figures (2 or fig2; several allowed); default: all found",
    )
    parser.add_argument(
        "--out", default="figures", metavar="DIR", help="output folder, created if missing (default: figures)"
    )
    parser.add_argument("--quick", action="store_true", help="coarse grids: a quick look in seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-figure notes on stderr")
    parser.add_argument(
        "--experiments",
        metavar="DIR",
        help="folder of experiment scripts (default: the checkout's experiments/ or the packaged copy)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=argument(_figures.parse_override),
        help="change a parameter of the figure (needs --only with one figure; see --list for the "
        f"keys); values are numbers, angles ({ANGLE_FORMS}), comma-separated lists or text",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the figures and their parameters, then exit"
    )
    parser.set_defaults(func=command(parser, _run))
    return parser


def _scripts(args):
    try:
        scripts = _figures.discover_figures(args.experiments)
        return scripts, _figures.select_figures(scripts, args.only)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    _, selected = _scripts(args)
    if args.list:
        print_stdout(_figures.describe_figures(selected))
        return 0
    if not selected:
        raise InputError("no experiment scripts found")
    overrides = dict(args.overrides)
    if overrides and len(selected) != 1:
        raise UsageError("--set changes one figure's parameters: select exactly one figure with --only")
    out_dir = Path(args.out)
    prog = "steerjax figures"

    def on_done(i, n, outcome):
        if not outcome.ok:
            error(prog, f"{outcome.script.name} ({outcome.script.path.name}) failed: {outcome.error}")
            if outcome.details:
                sys.stderr.write(outcome.details)
        elif not args.quiet:
            print(
                f"{prog}: [{i}/{n}] {outcome.script.name} done in {outcome.seconds:.1f} s",
                file=sys.stderr,
            )

    outcomes = sj.run_figures(
        selected,
        out_dir,
        quick=args.quick,
        overrides=overrides,
        make_bar=functools.partial(Progress, quiet=args.quiet),
        on_done=on_done,
    )
    print_stdout(_figures.figures_summary(outcomes, out_dir))
    return 0 if all(o.ok for o in outcomes) else 1
