"""Flag values: the parsers of :mod:`steerjax.io` as argparse ``type=`` converters (a value that
does not parse is a usage error, exit status 2, with the parser's message)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..io._text import parse_angle, parse_integer, parse_lo_phase, parse_number, parse_preset_name


def argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` as an argparse ``type=``: its ``ValueError`` becomes the usage error's message."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (one-line error naming the range)."""

    def parse(text: str) -> int:
        value = parse_integer(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside the allowed range [{low}, {high}]")
        return value

    return argument(parse)


angle_argument = argument(parse_angle)
number_argument = argument(parse_number)
preset_argument = argument(parse_preset_name)
lo_phase_argument = argument(parse_lo_phase)
count_argument = argument(parse_integer)

_UNSET = object()
"""Value of ``--lo-phase`` when the flag is not given (None means ``optimal``)."""
