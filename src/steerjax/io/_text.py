"""Numbers, angles, counts and words as job and design files (and the command line) write
them: ASCII decimal literals, multiples of pi, never nan."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from .._validation import DIRECTIONS
from .._validation import parse_direction as _parse_direction
from ..model._params import THERMAL_PRESETS
from ..optim._problem import COUPLINGS

# ---------------------------------------------------------------------------------------------
# Parsing text
# ---------------------------------------------------------------------------------------------

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL = re.compile(rf"^[+-]?{_NUMBER}$")
_INFINITY = re.compile(r"^[+-]?(?:inf|infinity)$", re.IGNORECASE)
_NAN = re.compile(r"^[+-]?nan$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_PI_MULTIPLE = re.compile(
    rf"^(?P<sign>[+-]?)\s*(?:(?P<coef>{_NUMBER})\s*\*?\s*)?(?:pi|π)\s*(?:/\s*(?P<den>{_NUMBER}))?$",
    re.IGNORECASE,
)
NUMBER_FORMS = (
    "ASCII decimal literals such as 50, 0.1, -3, 2.5e-3 (no '_' separators, no other scripts' digits)"
)
"""How numbers may be written on the command line and in tables (for help texts)."""

ANGLE_FORMS = "radians (1.1), or a multiple of pi (0.35pi, 0.35*pi, pi/4, 3pi/8)"
"""How angles may be written on the command line and in tables (for help texts)."""

MISSING_RULE = (
    "ASCII decimal literals (50, 0.1, 2.5e-3; no '_' separators, no other digits); "
    "a value that is not given is an empty cell (or an omitted flag); 'nan' is never a value, "
    "in a flag or in a cell"
)
"""The parsing rule of the commands, in words (for help texts)."""

_NAN_REASON = "is not allowed: a value that is not given is an empty cell or an omitted flag, never nan"


def _decimal(s: str) -> float | None:
    """The value of an ASCII decimal literal or inf/infinity, None for any other text; raises
    ``ValueError`` for nan (never a value)."""
    if _DECIMAL.match(s) or _INFINITY.match(s):
        return float(s)
    if _NAN.match(s):
        raise ValueError(f"{s!r} {_NAN_REASON}")
    return None


def parse_angle(text: str) -> float:
    """An angle in radians from text: a plain number (``1.1``, ``-2e-3``) or a multiple of pi
    (``0.35pi``, ``0.35*pi``, ``0.35 pi``, ``pi/4``, ``3pi/8``, ``-pi/4``, ``π/4``).

    Numbers follow :func:`parse_number` (ASCII decimal literals; ``nan`` is an error).
    ``a pi / b`` is evaluated as ``(a * math.pi) / b`` in float64, so ``0.35pi`` is exactly
    Python's ``0.35 * math.pi`` and ``pi/4`` is exactly ``math.pi / 4``.  The range is not
    checked here (that is the domain check's job).

    Raises:
        ValueError: the text is neither form, or is nan; the message quotes it and shows the
            forms.
    """
    s = str(text).strip()
    value = _decimal(s)
    if value is not None:
        return value
    m = _PI_MULTIPLE.match(s)
    if m is not None:
        coef = float(m["coef"]) if m["coef"] else 1.0
        den = float(m["den"]) if m["den"] else 1.0
        if den == 0.0:
            raise ValueError(f"{s!r} divides by zero")
        value = coef * math.pi / den
        return -value if m["sign"] == "-" else value
    raise ValueError(f"{s!r} is not an angle; write it in {ANGLE_FORMS}{_why_not(s)}")


def parse_number(text: str) -> float:
    """A float from text: an ASCII decimal literal (``1e5``, ``0.1``, ``-3``, ``.5``, ``2.``)
    or ``inf``/``infinity`` (any case, optional sign; the domain checks reject it where the
    range is open).

    Python's ``float`` is more lenient; these are refused on purpose: ``5_0`` (digit
    separators), digits of other scripts (full-width ``５０``), and ``nan`` (a value that is not
    given is an empty cell or an omitted flag, so that a NaN from an upstream computation
    cannot silently mean "use the default").

    Raises:
        ValueError: empty text, nan, or not a number (the message quotes it).
    """
    s = str(text).strip()
    if not s:
        raise ValueError("empty cell (a number is required)")
    value = _decimal(s)
    if value is None:
        raise ValueError(f"{s!r} is not a number{_why_not(s)}")
    return value


def _why_not(s: str) -> str:
    """For text that Python's ``float`` would take but the rule refuses: the rule, in words."""
    try:
        float(s)
    except ValueError:
        return ""
    return f"; numbers are {NUMBER_FORMS}"


def parse_integer(text: str) -> int:
    """A whole number from text: an ASCII integer literal (``8``, ``-2``), or a number in the
    form :func:`parse_number` accepts whose value is whole (``8.0``, ``1e3``).

    Raises:
        ValueError: not a number, nan, or not a whole number (``1.5``, ``inf``); the message
            quotes the text.
    """
    s = str(text).strip()
    if _INTEGER.match(s):
        return int(s)
    value = _decimal(s) if s else None
    if value is None or not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{s!r} is not a whole number; write it as ASCII digits (8, 100, 1e3)")
    return int(value)


def format_number(x: float, digits: int = 10, bounds: Iterable[float] = ()) -> str:
    """``x`` with ``digits`` significant digits (``g`` format) for text output, with two
    corrections of the plain format:

    * negative zero is shown as ``0`` (``-0`` carries no information for a reader);
    * where rounding would show ``x`` equal to one of ``bounds`` (a limit of its allowed range,
      e.g. 1 for ``eps`` in [0, 1), or the steering bound 1/2 for E) although it differs,
      more digits are used, up to the shortest round-trip form (``eps = 0.999999999999``,
      not ``eps = 1``).

    Examples:
        >>> format_number(-0.0), format_number(0.999999999999, 10, (0.0, 1.0))
        ('0', '0.999999999999')
    """
    x = float(x)
    if x == 0.0:
        return "0"
    limits = [float(b) for b in bounds if float(b) != x]
    for k in range(digits, 18):
        text = f"{x:.{k}g}"
        if float(text) not in limits:
            return text
    return repr(x)


def parse_preset_name(text: str) -> str:
    """The canonical name of a thermal preset (``"hot"``, ``"vacuum-server"``); case and
    ``_``/``-`` are ignored.

    Raises:
        ValueError: not a known preset (the message lists them).
    """
    key = str(text).strip().lower().replace("_", "-")
    if key not in THERMAL_PRESETS:
        raise ValueError(
            f"{str(text).strip()!r} is not a thermal preset; allowed: {', '.join(THERMAL_PRESETS)}"
        )
    return key


LO_PHASE_OPTIMAL = "optimal"
"""The word that asks for the local-oscillator phase to be optimised (``--lo-phase optimal``)."""

LO_PHASE_FORMS = f"a finite angle in {ANGLE_FORMS}, or the word {LO_PHASE_OPTIMAL!r}"
"""How a local-oscillator phase may be written (for help texts and messages)."""


def parse_lo_phase(text: str) -> float | None:
    """A local-oscillator phase from text: ``optimal`` (any case) -> None (the phase is to be
    optimised); otherwise a finite angle in radians, in any form :func:`parse_angle` accepts.

    Raises:
        ValueError: not an angle, or not finite; the message quotes the text and says what is
            allowed.
    """
    s = str(text).strip()
    if s.lower() == LO_PHASE_OPTIMAL:
        return None
    if _NAN.match(s):
        raise ValueError(f"{s!r} is not a finite angle; allowed: {LO_PHASE_FORMS}")
    try:
        value = parse_angle(s)
    except ValueError as exc:
        raise ValueError(f"{exc}, or the word {LO_PHASE_OPTIMAL!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{s!r} is not a finite angle; allowed: {LO_PHASE_FORMS}")
    return value


def _not_allowed(kind: str, text: str, allowed: Sequence[str]) -> ValueError:
    return ValueError(f"{str(text).strip()!r} is not a {kind}; allowed: {', '.join(allowed)}")


def parse_coupling(text: str) -> str:
    """Text -> ``"asymmetric"`` or ``"symmetric"`` (case and ``_``/``-`` ignored)."""
    key = str(text).strip().lower().replace("_", "-")
    if key not in COUPLINGS:
        raise _not_allowed("coupling", text, COUPLINGS)
    return key


def parse_direction(text: str) -> str:
    """Text -> ``"plus-given-minus"`` or ``"minus-given-plus"`` (also ``+|-``, ``-|+``; case and
    ``_``/``-`` ignored): the library's parser (``steerjax.optim`` spelling)
    with this command's message."""
    try:
        return _parse_direction(str(text).strip())
    except ValueError:
        raise _not_allowed("direction", text, DIRECTIONS) from None


_TRUE, _FALSE = ("true", "yes", "y", "t", "1"), ("false", "no", "n", "f", "0")


def parse_bool(text: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0; any case) -> bool."""
    key = str(text).strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"{str(text).strip()!r} is not true or false")
