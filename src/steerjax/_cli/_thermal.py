"""The thermal parameters of a command: a preset or explicit rates and occupations."""

from __future__ import annotations

import argparse

from .._validation import domain_problem
from ..io._tables import THERMAL_FIELDS, THERMAL_FLAGS, describe_presets, preset_values
from ..model._params import THERMAL_PRESETS, Thermal
from ._messages import InputError, UsageError, wrap
from ._numbers import number_argument, preset_argument

# ---------------------------------------------------------------------------------------------
# Thermal parameters from flags
# ---------------------------------------------------------------------------------------------

_THERMAL_HELP = {
    "gamma0_plus_hz": "intrinsic linewidth of the server (+), gamma_+,0/2pi [Hz], > 0",
    "nbar_plus": "thermal occupation of the server's bath, nbar_+ [quanta], >= 0",
    "gamma0_minus_hz": "intrinsic linewidth of the client (-), gamma_-,0/2pi [Hz], > 0",
    "nbar_minus": "thermal occupation of the client's bath, nbar_- [quanta], >= 0",
}


def add_thermal_arguments(parser: argparse.ArgumentParser, *, description: str | None = None):
    """Add ``--thermal PRESET`` and the four explicit thermal flags in their own help group.

    Rule (implemented by :func:`thermal_values_from_args`): a preset gives all four values; an
    explicit flag overrides the preset's value for its field; without a preset all four
    explicit flags are needed.  Returns the argument group.
    """
    group = parser.add_argument_group(
        "thermal parameters",
        wrap(
            description
            or (
                "Give a preset with --thermal, or all four explicit flags; an explicit flag given "
                "together with --thermal overrides the preset's value.  Presets (the paper's Figs. "
                f"4-8): {describe_presets()}."
            )
        ),
    )
    group.add_argument(
        "--thermal",
        metavar="PRESET",
        type=preset_argument,
        help=f"thermal preset: {' or '.join(THERMAL_PRESETS)}",
    )
    for name in THERMAL_FIELDS:
        group.add_argument(
            THERMAL_FLAGS[name],
            dest=name,
            metavar="HZ" if name.endswith("_hz") else "NBAR",
            type=number_argument,
            help=_THERMAL_HELP[name],
        )
    return group


def thermal_values_from_args(args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """The thermal values the flags give: ``field -> (value, origin)``.

    ``origin`` is the flag that supplied the value (``"--nbar-plus"``) or the preset
    (``"--thermal hot"``).  Fields that no flag gives are absent, so the mapping may be
    incomplete (a table may supply the rest).  No range check here.
    """
    out: dict[str, tuple[float, str]] = {}
    preset = getattr(args, "thermal", None)
    if preset is not None:
        for name, value in preset_values(preset).items():
            out[name] = (value, f"--thermal {preset}")
    for name in THERMAL_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            out[name] = (float(value), THERMAL_FLAGS[name])
    return out


def describe_thermal_source(args: argparse.Namespace) -> str:
    """Where the thermal values came from, in words (``preset hot, nbar_plus from --nbar-plus``)."""
    preset = getattr(args, "thermal", None)
    explicit = [name for name in THERMAL_FIELDS if getattr(args, name, None) is not None]
    if preset is None:
        return "explicit flags"
    if not explicit:
        return f"preset {preset}"
    return f"preset {preset}, overridden by {', '.join(THERMAL_FLAGS[n] for n in explicit)}"


def thermal_from_args(args: argparse.Namespace) -> Thermal:
    """A complete, checked :class:`steerjax.Thermal` from ``--thermal`` and the explicit flags.

    Raises:
        UsageError: neither a preset nor all four explicit flags (the message names the
            missing flags).
        InputError: a value outside its allowed range (named, with the range).
    """
    values = thermal_values_from_args(args)
    missing = [THERMAL_FLAGS[n] for n in THERMAL_FIELDS if n not in values]
    if missing:
        given = [THERMAL_FLAGS[n] for n in THERMAL_FIELDS if n in values]
        raise UsageError(
            "the thermal parameters are incomplete: give --thermal "
            f"{{{','.join(THERMAL_PRESETS)}}}, or all four of {', '.join(THERMAL_FLAGS.values())}"
            + (f" (given: {', '.join(given)}; missing: {', '.join(missing)})" if given else "")
        )
    problems = [domain_problem(n, [v], origin) for n, (v, origin) in values.items()]
    if any(problems):
        raise InputError("; ".join(p for p in problems if p is not None))
    return Thermal(**{n: v for n, (v, _) in values.items()})
