"""``steerjax pareto``: the Pareto front of the two steering directions and the asymmetry
front of one-way steering (:func:`steerjax.pareto_front`), as a CSV and optionally a plot."""

from __future__ import annotations

import argparse
import io

from .._io import atomic_write_bytes, csv_text, write_csv
from ._messages import (
    InputError,
    UsageError,
    check_out_file,
    command,
    note,
    print_stdout,
    wrap,
    write_out_file,
)
from ._numbers import count_argument, number_argument
from ._thermal import add_thermal_arguments, thermal_from_args

PROG = "steerjax pareto"


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``pareto`` command."""
    parser = subparsers.add_parser(
        "pareto",
        help="the trade-off between E_+|- and E_-|+: Pareto and asymmetry fronts",
        description=wrap(
            "Trace the Pareto front of (E_+|-, E_-|+) from the optimum of E_+|- to the optimum of "
            "E_-|+ (each point: the smallest E_+|- with E_-|+ <= t), and the asymmetry front of "
            "one-way steering (the smallest E_+|- with E_-|+ >= s, s from 1/2 up).  Both are one "
            "batch of constrained optima (asymmetric coupling, C_+ and both angles free)."
        ),
        epilog=wrap(
            "output: the columns E_plus_given_minus, E_minus_given_plus, theta_plus, theta_minus "
            "[rad], C_plus, front (pareto | asymmetry), Pareto first, full float64 precision; on "
            "stdout without --out.  --out FILE is replaced whole or not at all; --plot FILE.png "
            "renders both fronts.  Exit status: 0 success, 1 a bad value or an unwritable file, "
            "2 a usage error."
        ),
    )
    add_thermal_arguments(parser)
    parser.add_argument(
        "--c-minus",
        dest="C_minus",
        metavar="C",
        type=number_argument,
        required=True,
        help="the client's cooperativity C_- [dimensionless], > 0",
    )
    parser.add_argument(
        "--eps",
        metavar="EPS",
        type=number_argument,
        default=0.0,
        help="transmission loss [dimensionless] in [0, 1); default 0",
    )
    parser.add_argument(
        "--points", metavar="N", type=count_argument, default=41, help="points per front, >= 2; default 41"
    )
    parser.add_argument(
        "--asymmetry-max",
        dest="asymmetry_max",
        metavar="S",
        type=number_argument,
        default=100.0,
        help="largest required E_-|+ of the asymmetry front, > 0.5; default 100",
    )
    parser.add_argument(
        "--starts", metavar="N", type=count_argument, default=8, help="starts per problem; default 8"
    )
    parser.add_argument("--out", metavar="FILE", help="write the CSV to FILE (default: stdout)")
    parser.add_argument("--plot", metavar="FILE.png", help="render both fronts to FILE.png")
    parser.add_argument("--quiet", action="store_true", help="no notes on stderr")
    parser.set_defaults(func=command(parser, run))
    return parser


def run(args: argparse.Namespace) -> int:
    import steerjax as sj

    check_out_file(args.out)
    check_out_file(args.plot, "--plot")
    if args.plot is not None and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot {args.plot}: the file name must end in .png")
    if args.points < 2:
        raise UsageError(f"--points: {args.points} is outside the allowed range [2, inf)")
    if args.starts < 1:
        raise UsageError(f"--starts: {args.starts} is outside the allowed range [1, inf)")
    thermal = thermal_from_args(args)
    try:
        fronts = sj.pareto_front(
            thermal,
            args.C_minus,
            args.eps,
            args.points,
            asymmetry_max=args.asymmetry_max,
            search=sj.SearchOptions(n_starts=args.starts),
        )
    except ValueError as exc:  # a value outside its range (named by the library), or infeasible
        raise InputError(str(exc)) from None
    columns = fronts.columns()
    status = 0
    if args.out is None:
        print_stdout(csv_text(columns).rstrip("\n"))
    else:
        status = write_out_file(PROG, args.out, lambda path: write_csv(path, columns, parents=False))
        if status == 0:
            note(PROG, f"wrote {len(columns['front'])} points to {args.out}", quiet=args.quiet)
    if args.plot is not None:
        status = max(status, write_out_file(PROG, args.plot, lambda path: _write_plot(path, fronts, args)))
    return status


def _write_plot(path: str, fronts, args: argparse.Namespace) -> None:
    from ..plotting import fronts_figure

    title = f"$C_- = {args.C_minus:g}$, $\\varepsilon = {args.eps:g}$"
    fig = fronts_figure(fronts, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    atomic_write_bytes(path, buf.getvalue(), parents=False)
