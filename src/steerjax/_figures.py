"""The figure runner: find the experiment scripts, run them, report what they wrote.

Each figure of the paper is reproduced by one small script ``figN_<what>.py`` (see
``experiments/README.md`` for the contract: module-level ``FIGURE`` and ``TITLE``, functions
``compute``, ``plot`` and ``main(out_dir, quick=False, progress=None, **overrides)``).  This
module

* locates the folder of scripts (:func:`experiments_dir`): an explicit folder, else
  ``<repo>/experiments`` in a source checkout (the package is installed editable from
  ``<repo>/src``), else the copy packaged in wheels as ``steerjax/_experiments``;
* lists the scripts (:func:`discover_figures`) and picks some (:func:`select_figures`:
  ``"2"``, ``"fig2"``);
* imports each by its path and runs its ``main`` (:func:`run_figure`, :func:`run_figures`),
  recording the outcome (:class:`FigureOutcome`): a failing script is reported, and the
  others still run.

It does not touch JAX's configuration: callers that want float64 (the ``steerjax figures``
command does) enable it first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .io._console import format_columns
from .io._text import parse_angle

__all__ = [
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
    "SCRIPT_PATTERN",
    "REQUIRED_ATTRIBUTES",
]

SCRIPT_PATTERN = re.compile(r"^fig(?P<number>[0-9]+)_(?P<what>[A-Za-z0-9_]+)\.py$")
"""File names of experiment scripts: ``fig<N>_<what>.py``."""

REQUIRED_ATTRIBUTES = ("FIGURE", "TITLE", "compute", "plot", "main")
"""What every experiment script defines at module level."""

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class FigureScript:
    """One experiment script: ``number`` (2 for ``fig2_*.py``), ``name`` (``"fig2"``) and ``path``."""

    number: int
    name: str
    path: Path


@dataclasses.dataclass
class FigureOutcome:
    """What running one script gave.

    Attributes:
        script: the :class:`FigureScript`.
        ok: True if ``main`` returned normally.
        seconds: wall time of the run (import included).
        title: the script's ``TITLE`` (empty if it could not be imported).
        files: paths of the files it wrote (from the metadata ``main`` returns).
        metadata: the dict ``main`` returned (None on failure).
        error: one-line description of the failure (None on success).
        details: the traceback of the failure (None on success or for a ``ValueError``,
            which by the project's convention is a message meant for the user).
    """

    script: FigureScript
    ok: bool
    seconds: float
    title: str = ""
    files: list[Path] = dataclasses.field(default_factory=list)
    metadata: dict | None = None
    error: str | None = None
    details: str | None = None


def _has_scripts(directory: Path) -> bool:
    return directory.is_dir() and any(SCRIPT_PATTERN.match(p.name) for p in directory.iterdir())


def experiments_dir(directory: str | Path | None = None) -> Path:
    """The folder of experiment scripts.

    ``directory`` if given (it must exist); otherwise ``<repo>/experiments`` of a source checkout
    (found from the package's location, ``<repo>/src/steerjax``), otherwise the copy packaged
    in wheels, ``steerjax/_experiments``.

    Raises:
        ValueError: ``directory`` is not a folder, or no folder of scripts is found.
    """
    if directory is not None:
        path = Path(directory)
        if not path.is_dir():
            raise ValueError(f"experiments = {str(directory)!r} is not a folder")
        return path
    candidates = [_PACKAGE_DIR.parents[1] / "experiments", _PACKAGE_DIR / "_experiments"]
    for candidate in candidates:
        if _has_scripts(candidate):
            return candidate
    raise ValueError(
        "no experiment scripts found (looked in " + " and ".join(str(c) for c in candidates) + "); "
        "give the folder explicitly"
    )


def discover_figures(directory: str | Path | None = None) -> list[FigureScript]:
    """All scripts ``fig<N>_<what>.py`` of the experiments folder (see :func:`experiments_dir`),
    sorted by figure number.

    Raises:
        ValueError: two scripts claim the same figure number.
    """
    folder = experiments_dir(directory)
    scripts: dict[int, FigureScript] = {}
    for path in sorted(folder.iterdir()):
        m = SCRIPT_PATTERN.match(path.name)
        if m is None or not path.is_file():
            continue
        number = int(m["number"])
        if number in scripts:
            raise ValueError(
                f"two scripts for figure {number} in {folder}: {scripts[number].path.name} and {path.name}"
            )
        scripts[number] = FigureScript(number=number, name=f"fig{number}", path=path)
    return [scripts[k] for k in sorted(scripts)]


def _figure_number(text: str | int) -> int:
    s = str(text).strip().lower()
    s = s[3:] if s.startswith("fig") else s
    if not s.isdigit():
        raise ValueError(f"{str(text)!r} is not a figure number (write 2 or fig2)")
    return int(s)


def select_figures(scripts: Sequence[FigureScript], only: Iterable[str | int] | None) -> list[FigureScript]:
    """The scripts named in ``only`` (``2``, ``"2"``, ``"fig2"``, ``"Fig2"``), in figure order;
    all of them when ``only`` is None or empty.

    Raises:
        ValueError: an entry is not a figure number, or no script makes that figure (the
            message lists those that exist).
    """
    wanted = [_figure_number(x) for x in (only or [])]
    if not wanted:
        return list(scripts)
    available = {s.number: s for s in scripts}
    missing = [n for n in wanted if n not in available]
    if missing:
        have = ", ".join(str(n) for n in sorted(available)) or "none"
        raise ValueError(
            f"no script for figure{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}; "
            f"available: {have}"
        )
    return [available[n] for n in sorted(set(wanted))]


@contextlib.contextmanager
def _sibling_imports(folder: Path) -> Iterator[None]:
    """Let a script import the helper modules beside it (``import _harness``), as it can when
    run directly: ``folder`` leads ``sys.path`` while the script is imported, and a helper
    imported earlier from another folder of scripts is forgotten, so that each script gets
    the helpers of its own folder."""
    for helper in folder.glob("_*.py"):
        cached = sys.modules.get(helper.stem)
        where = getattr(cached, "__file__", None)
        if cached is not None and (where is None or Path(where).resolve() != helper.resolve()):
            del sys.modules[helper.stem]
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def load_figure_module(script: FigureScript) -> ModuleType:
    """Import a script by its path (as module ``steerjax_experiments.<stem>``) and check that it
    follows the contract.  The script may import the modules ``_*.py`` of its own folder
    (the experiments' ``_harness.py``), from a checkout as from an installed wheel.

    Raises:
        ValueError: a required attribute is missing, or ``FIGURE`` does not match the file name.
    """
    module_name = f"steerjax_experiments.{script.path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, script.path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{script.path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with _sibling_imports(script.path.parent):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(module, a)]
    if missing:
        raise ValueError(f"{script.path.name}: missing {', '.join(missing)} (see experiments/README.md)")
    if module.FIGURE != script.name:
        raise ValueError(f"{script.path.name}: FIGURE = {module.FIGURE!r}, expected {script.name!r}")
    return module


class _ProgressRelay:
    """Turns the scripts' ``progress(done, total)`` calls into updates of a bar made by
    ``make_bar(total, label)`` (an object with ``update(n)``, ``count`` and ``close()``, such as
    :class:`steerjax.io.Progress`), created on the first call."""

    def __init__(self, make_bar: Callable[[int, str], Any] | None, label: str):
        self.make_bar = make_bar
        self.label = label
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.make_bar is None:
            return
        if self.bar is None:
            self.bar = self.make_bar(int(total), self.label)
        elif int(total) != self.bar.total:  # a script that changes its mind about the total
            self.bar.total = int(total)
        step = int(done) - self.done
        if step > 0:
            self.bar.update(step)
            self.done = int(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_figure(
    script: FigureScript,
    out_dir: str | Path,
    *,
    quick: bool = False,
    overrides: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FigureOutcome:
    """Import ``script`` and run ``main(out_dir, quick=quick, progress=progress, **overrides)``.

    Never raises for a failure of the script (``Exception``): the outcome records it.
    """
    t0 = time.perf_counter()
    title = ""
    try:
        module = load_figure_module(script)
        title = str(module.TITLE)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        metadata = module.main(Path(out_dir), quick=quick, progress=progress, **dict(overrides or {}))
    except Exception as exc:  # a failing figure must not stop the others
        details = None if isinstance(exc, ValueError) else traceback.format_exc()
        return FigureOutcome(
            script=script,
            ok=False,
            seconds=time.perf_counter() - t0,
            title=title,
            error=f"{type(exc).__name__}: {exc}",
            details=details,
        )
    files = [Path(out_dir) / f for f in (metadata or {}).get("files", [])]
    return FigureOutcome(
        script=script,
        ok=True,
        seconds=time.perf_counter() - t0,
        title=title,
        files=files,
        metadata=dict(metadata) if metadata is not None else None,
    )


def run_figures(
    scripts: Sequence[FigureScript],
    out_dir: str | Path,
    *,
    quick: bool = False,
    overrides: Mapping[str, object] | None = None,
    make_bar: Callable[[int, str], Any] | None = None,
    on_start: Callable[[int, int, FigureScript], None] | None = None,
    on_done: Callable[[int, int, FigureOutcome], None] | None = None,
) -> list[FigureOutcome]:
    """Run several scripts in turn (see :func:`run_figure`); returns one outcome per script.

    Args:
        scripts: from :func:`discover_figures` / :func:`select_figures`.
        out_dir: folder for all files (created if needed).
        quick: coarse grids.
        overrides: parameter overrides passed to every script's ``main``.
        make_bar: ``make_bar(total, label)`` -> a progress bar (``update(n)``, ``close()``),
            one per figure, labelled ``[i/n] figN``; None for no progress display.
        on_start, on_done: called as ``on_start(i, n, script)`` before and
            ``on_done(i, n, outcome)`` after each figure (``i`` counts from 1).

    Examples:
        >>> import tempfile, steerjax as sj
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sj.run_figures([], tmp)
        []
    """
    outcomes = []
    n = len(scripts)
    for i, script in enumerate(scripts, start=1):
        if on_start is not None:
            on_start(i, n, script)
        relay = _ProgressRelay(make_bar, f"[{i}/{n}] {script.name}")
        try:
            outcome = run_figure(script, out_dir, quick=quick, overrides=overrides, progress=relay)
        finally:
            relay.close()
        outcomes.append(outcome)
        if on_done is not None:
            on_done(i, n, outcome)
    return outcomes


# ---------------------------------------------------------------------------------------------
# Text: parameter overrides, the list of figures, the summary of a run
# ---------------------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> ``(key, value)``, a parameter override of a figure script.  The value is
    an int (``101``), a float or angle (``0.35pi``, ``1e3``), a tuple of those separated by commas
    (``0.3pi,0.4pi``), or else the text itself (``vacuum-server``).

    Raises:
        ValueError: no ``=`` or an empty key.

    Examples:
        >>> parse_override("n_map=101"), parse_override("thermal = hot")
        (('n_map', 101), ('thermal', 'hot'))
    """
    key, sep, value = str(text).partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise ValueError(f"{text!r} is not KEY=VALUE")

    def one(v: str):
        v = v.strip()
        if re.fullmatch(r"[+-]?[0-9]+", v):  # ASCII digits only (int() would also take 1_0, ١٠)
            return int(v)
        try:
            return parse_angle(v)
        except ValueError:
            return v

    if "," in value:
        return key, tuple(one(v) for v in value.split(",") if v.strip())
    return key, one(value)


def describe_figures(scripts: Iterable[FigureScript]) -> str:
    """One line per script (name, file, title) and one per default parameter (``DEFAULTS``),
    as ``steerjax figures --list`` prints them; a script that cannot be loaded says why."""
    lines = []
    for script in scripts:
        try:
            module = load_figure_module(script)
        except Exception as exc:  # show what is wrong with a script, but list the rest
            lines.append(
                f"{script.name}  {script.path.name}  (cannot be loaded: {type(exc).__name__}: {exc})"
            )
            continue
        lines.append(f"{script.name}  {script.path.name}  {module.TITLE}")
        defaults = getattr(module, "DEFAULTS", None)
        if isinstance(defaults, dict):
            for key, value in defaults.items():
                lines.append(f"    {key} = {value!r}")
    return "\n".join(lines) if lines else "no figures"


def figures_summary(outcomes: Sequence[FigureOutcome], out_dir: str | Path) -> str:
    """A table of the outcomes of :func:`run_figures` (figure, status, time, files or error) and
    a closing line of totals, as ``steerjax figures`` prints them.

    Examples:
        >>> print(figures_summary([], "figures"))
        figure  status  time  files
        0 of 0 figures done in 0.0 s; 0 files in figures
    """
    cells = [
        [
            o.script.name,
            "ok" if o.ok else "FAILED",
            f"{o.seconds:.1f} s",
            ", ".join(f.name for f in o.files) if o.ok else str(o.error),
        ]
        for o in outcomes
    ]
    n_files = sum(len(o.files) for o in outcomes)
    failed = sum(not o.ok for o in outcomes)
    total = sum(o.seconds for o in outcomes)
    table = format_columns(
        ["figure", "status", "time", "files"], cells, justify=("left", "left", "right", "left")
    )
    return (
        f"{table}\n{len(outcomes) - failed} of {len(outcomes)} figures done in {total:.1f} s; "
        f"{n_files} files in {out_dir}" + (f"; {failed} failed" if failed else "")
    )
