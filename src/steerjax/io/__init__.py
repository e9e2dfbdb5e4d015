"""Job and design files: CSV tables read into checked columns with per-row errors, and the
text forms of numbers, angles and words that they (and the command line) accept.

The command line reads its ``--from`` files with these functions, so Python users get the same
checks and the same messages: :func:`read_table` parses each known :class:`Column` cell by cell,
and every check adds its reason to the row (:meth:`Table.reject`) instead of stopping at the
first, so that :meth:`Table.error_messages` reports every bad row as ``FILE:LINE: reason``
while :attr:`Table.ok` marks the good ones.

Long runs and their results: :class:`ProgressBar` draws the bar of the command line for any
``progress`` callback, :func:`format_columns` lays out a plain-text table, and inside
:class:`StopOnSignals` a Ctrl-C or SIGTERM stops the run for good and no steerjax writer
replaces a file after it.
"""

from ._console import Progress, ProgressBar, format_columns
from ._signals import StopOnSignals
from ._tables import (
    REQUIRED,
    THERMAL_PRESET_COLUMN,
    Column,
    InputError,
    Table,
    read_table,
    reject_out_of_domain,
    resolve_thermal,
    thermal_table_columns,
)
from ._text import (
    format_number,
    parse_angle,
    parse_bool,
    parse_coupling,
    parse_direction,
    parse_integer,
    parse_lo_phase,
    parse_number,
    parse_preset_name,
)

__all__ = [
    "Column",
    "Table",
    "REQUIRED",
    "InputError",
    "read_table",
    "reject_out_of_domain",
    "THERMAL_PRESET_COLUMN",
    "thermal_table_columns",
    "resolve_thermal",
    "parse_number",
    "parse_angle",
    "parse_integer",
    "parse_lo_phase",
    "parse_preset_name",
    "parse_coupling",
    "parse_direction",
    "parse_bool",
    "format_number",
    "Progress",
    "ProgressBar",
    "format_columns",
    "StopOnSignals",
]
