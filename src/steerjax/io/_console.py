"""Console output for long runs and their results: a progress bar and plain-text tables (both
drawn by :mod:`rich`, imported only when used).

:class:`ProgressBar` is a ``progress(done, total[, label])`` callback for the functions that
take one (:func:`steerjax.analysis.optimal_grid_data`, and the batches of the command line), so a
script shows the same bar as ``steerjax``; :class:`Progress` is the bar itself, and
:func:`format_columns` lays out cells as the aligned tables of the command line's reports.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

__all__ = ["Progress", "ProgressBar", "format_columns"]

# ---------------------------------------------------------------------------------------------
# Progress bar (rich)
# ---------------------------------------------------------------------------------------------


def _rich_console(stream, *, terminal: bool):
    """A :class:`rich.console.Console` writing to ``stream`` (imported here: only the text
    output and the progress bar need it)."""
    from rich.console import Console

    if terminal:
        return Console(file=stream, force_terminal=True, highlight=False)
    return Console(file=stream, force_terminal=False, color_system=None, highlight=False, width=10_000)


class Progress:
    """A one-line progress bar on stderr, drawn by :mod:`rich`.

    Silent when ``quiet`` is true or the stream is not a terminal (so logs and pipes stay
    clean).  Shows ``label``, the bar, ``count/total``, the percentage and the elapsed time;
    ``label`` and ``total`` may be changed while it runs.  Use as a context manager or call
    :meth:`close`.

    Examples:
        >>> with Progress(total=3, label="chunks", quiet=True) as bar:
        ...     for _ in range(3):
        ...         bar.update()
    """

    def __init__(self, total: int, label: str = "", *, quiet: bool = False, stream=None):
        self._total = max(int(total), 0)
        self._label = label
        self.count = 0
        stream = stream if stream is not None else sys.stderr
        isatty = getattr(stream, "isatty", None)
        self.enabled = (not quiet) and bool(isatty and isatty())
        self._bar = None
        if self.enabled:
            from rich import progress as rp

            self._bar = rp.Progress(
                rp.TextColumn("{task.description}"),
                rp.BarColumn(),
                rp.MofNCompleteColumn(),
                rp.TaskProgressColumn(),
                rp.TimeElapsedColumn(),
                console=_rich_console(stream, terminal=True),
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._bar.add_task(label, total=self._total)
            self._bar.start()

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, text: str) -> None:
        self._label = text
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, n: int) -> None:
        self._total = max(int(n), 0)
        if self._bar is not None:
            self._bar.update(self._task, total=self._total)

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps (never past ``total``)."""
        self.count = min(self.count + n, self.total) if self.total else self.count + n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.count)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ProgressBar:
    """A ``progress(done, total, label)`` callback for the library's batch functions, drawing a
    :class:`Progress` bar (made on the first call, and again for a new total or when ``done``
    starts over, as in the next stage of a batch; silent when ``quiet`` or ``total <= 1``).
    Use as a context manager."""

    def __init__(self, *, quiet: bool = False):
        self.quiet = quiet
        self.bar: Progress | None = None

    def __call__(self, done: int, total: int, label: str = "") -> None:
        if self.bar is None or self.bar.total != total or done < self.bar.count:
            self.close()
            self.bar = Progress(total, label=label, quiet=self.quiet or total <= 1)
        if label != self.bar.label:
            self.bar.label = label
        self.bar.update(done - self.bar.count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Text tables
# ---------------------------------------------------------------------------------------------


def format_columns(
    headings: Sequence[str], rows: Iterable[Sequence[str]], *, justify: str | Sequence[str] = "right"
) -> str:
    """Cells (already formatted text) as an aligned plain-text table, drawn by :mod:`rich`:
    a heading line, then one line per row, columns two spaces apart, no borders, no colour,
    never wrapped; trailing spaces removed.  ``justify``: ``"right"`` or ``"left"``, for all
    columns or one per column."""
    from rich.table import Table as RichTable
    from rich.text import Text

    sides = [justify] * len(headings) if isinstance(justify, str) else list(justify)
    table = RichTable(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="")
    for heading, side in zip(headings, sides, strict=True):
        table.add_column(Text(heading), justify=side, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = _rich_console(None, terminal=False)
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())
