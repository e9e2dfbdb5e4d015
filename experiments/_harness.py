"""What the figure scripts share that is not physics and not drawing: parameters, progress,
data files and provenance.

The scripts ``figN_*.py`` of this folder import it as a sibling module (``import _harness``):
run as ``python experiments/figN_*.py`` the folder is on ``sys.path``; run by ``steerjax
figures`` (:func:`steerjax.plotting.load_figure_module`) the runner puts the script's folder there, in a
checkout as in an installed wheel (``steerjax/_experiments``).

* **Parameters.**  :func:`resolve_parameters` merges a script's defaults, its ``--quick`` grid
  sizes and a user's overrides, rejecting unknown names.
* **Progress.**  :func:`report_progress` forwards ``(done, total)`` to an optional callback, the
  ``progress`` argument of the scripts' ``main`` (``steerjax figures`` draws it as a bar).
* **Data files.**  :func:`save_table` (CSV, full float64 precision), :func:`save_arrays` (NPZ)
  and :func:`write_metadata` (JSON with the parameters, grid sizes, versions, git commit, JAX
  backend and device, run time; see :func:`run_metadata`), each written atomically;
  :func:`finish_run` is the end of every ``main`` (time the phases, write the JSON, report the
  run done).  Figures themselves are saved by :func:`steerjax.plotting.save_figure`.
* **Entry point.**  :func:`run_as_script` is the ``if __name__ == "__main__":`` block of the
  scripts (``--out``, ``--quick``; float64 on).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import matplotlib
import numpy as np

import steerjax as sj
from steerjax._io import atomic_write_bytes, write_csv, write_json

__all__ = [
    "ProgressCallback",
    "resolve_parameters",
    "report_progress",
    "save_table",
    "save_arrays",
    "git_commit",
    "environment_info",
    "run_metadata",
    "write_metadata",
    "finish_run",
    "run_as_script",
]

ProgressCallback = Callable[[int, int], None]
"""Signature of a progress callback: ``progress(done, total)``, called after each step."""


# ---------------------------------------------------------------------------------------------
# Data files and provenance (all written atomically)
# ---------------------------------------------------------------------------------------------


def save_table(out_dir: str | os.PathLike, name: str, columns: Mapping[str, Sequence]) -> Path:
    """Write ``<out_dir>/<name>.csv`` from named 1-D columns (floats at full precision), atomically."""
    return write_csv(Path(out_dir) / f"{name}.csv", columns)


def save_arrays(out_dir: str | os.PathLike, name: str, arrays: Mapping[str, object]) -> Path:
    """Write ``<out_dir>/<name>.npz`` (uncompressed numpy archive of named arrays), atomically.
    Read it back with ``numpy.load``."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(Path(out_dir) / f"{name}.npz", buf.getvalue())


def git_commit(path: str | os.PathLike | None = None) -> dict[str, object] | None:
    """The git commit of the checkout containing ``path`` (default: this folder), as
    ``{"commit": sha, "dirty": bool}`` (dirty: tracked files differ from the commit), or
    ``None`` outside a git checkout or without git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    dirty = None if status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": sha.stdout.strip(), "dirty": dirty}


def environment_info(path: str | os.PathLike | None = None) -> dict[str, object]:
    """Where a result was computed: steerjax, JAX, numpy and matplotlib versions, the JAX
    backend and devices, whether float64 is enabled, Python, platform, the git commit (see
    :func:`git_commit`; ``path`` locates the checkout) and the UTC time."""
    try:
        devices = [str(d) for d in jax.devices()]
        backend = jax.default_backend()
    except RuntimeError as exc:  # no usable backend
        devices, backend = [], f"unavailable ({exc})"
    git = git_commit(path)
    return {
        "steerjax_version": sj.__version__,
        "git_commit": git["commit"] if git else None,
        "git_dirty": git["dirty"] if git else None,
        "jax_version": jax.__version__,
        "jax_backend": backend,
        "jax_devices": devices,
        "jax_x64": bool(jax.config.jax_enable_x64),
        "numpy_version": np.__version__,
        "matplotlib_version": matplotlib.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def run_metadata(
    *,
    figure: str,
    title: str,
    parameters: Mapping[str, object],
    grid: Mapping[str, object],
    quick: bool,
    runtime_s: Mapping[str, float],
    files: Sequence[str | os.PathLike] = (),
    results: Mapping[str, object] | None = None,
    script: str | os.PathLike | None = None,
) -> dict[str, object]:
    """The metadata record of one figure run (what :func:`write_metadata` stores).

    Keys: ``figure``, ``title``, ``script`` (file name), ``quick``, ``parameters`` (every
    physical and numerical parameter used), ``grid`` (grid sizes), ``results`` (derived numbers
    worth keeping, e.g. exact boundaries), ``files`` (file names written), ``runtime_s`` (wall
    times in seconds), then everything of :func:`environment_info`.
    """
    return {
        "figure": figure,
        "title": title,
        "script": Path(script).name if script is not None else None,
        "quick": bool(quick),
        "parameters": dict(parameters),
        "grid": dict(grid),
        "results": dict(results or {}),
        "files": [Path(f).name for f in files],
        "runtime_s": {k: round(float(v), 4) for k, v in runtime_s.items()},
        **environment_info(script),
    }


def write_metadata(out_dir: str | os.PathLike, name: str, metadata: Mapping[str, object]) -> Path:
    """Write ``<out_dir>/<name>.json`` atomically (numpy/JAX arrays become lists)."""
    return write_json(Path(out_dir) / f"{name}.json", dict(metadata))


def finish_run(
    out_dir: str | os.PathLike,
    figure: str,
    title: str,
    *,
    parameters: Mapping[str, object],
    grid: Mapping[str, object],
    quick: bool,
    times: tuple[float, float, float],
    files: Sequence[str | os.PathLike],
    results: Mapping[str, object],
    script: str | os.PathLike,
    progress: ProgressCallback | None = None,
    total: int = 1,
) -> dict[str, object]:
    """The last step of a script's ``main``: write ``<out_dir>/<figure>.json`` and return it.

    ``times`` are the :func:`time.perf_counter` readings [s] taken when ``main`` started, when
    the data were computed and when the figure was plotted; the writing ends now.  The record is
    :func:`run_metadata`'s, listing ``files`` and the JSON file itself; ``progress`` is then told
    that all ``total`` steps are done.
    """
    start, computed, plotted = times
    written = time.perf_counter()
    runtime_s = {
        "compute": computed - start,
        "plot": plotted - computed,
        "write": written - plotted,
        "total": written - start,
    }
    meta = run_metadata(
        figure=figure,
        title=title,
        parameters=parameters,
        grid=grid,
        quick=quick,
        runtime_s=runtime_s,
        files=[*files, Path(out_dir) / f"{figure}.json"],
        results=results,
        script=script,
    )
    write_metadata(out_dir, figure, meta)
    report_progress(progress, total, total)
    return meta


def resolve_parameters(
    figure: str,
    defaults: Mapping[str, object],
    overrides: Mapping[str, object],
    *,
    quick: bool = False,
    quick_defaults: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The parameters of a figure run: ``defaults``, then ``quick_defaults`` if ``quick``, then
    the user's ``overrides`` (which win, also over the quick grid sizes).

    Raises:
        ValueError: an override names no known parameter (the message lists the known ones).

    Example:
        >>> from _harness import resolve_parameters
        >>> resolve_parameters("figX", {"n": 101, "c": 50.0}, {"c": 30.0}, quick=True,
        ...                    quick_defaults={"n": 11})
        {'n': 11, 'c': 30.0}
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"{figure}: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(defaults)}"
        )
    params = dict(defaults)
    if quick and quick_defaults:
        params.update(quick_defaults)
    params.update(overrides)
    return params


def report_progress(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if a callback is given (scripts call this after each step)."""
    if progress is not None:
        progress(int(done), int(total))


# ---------------------------------------------------------------------------------------------
# Script entry point
# ---------------------------------------------------------------------------------------------


def run_as_script(main: Callable[..., dict], figure: str, doc: str | None, argv: Sequence[str] | None = None):
    """The ``if __name__ == "__main__":`` block of an experiment script: parse ``--out`` and
    ``--quick``, switch JAX to float64 (scripts never do that on import), run ``main`` and print
    what was written.  Returns the metadata ``main`` returned.

    Usage (last lines of ``experiments/figN_*.py``)::

        if __name__ == "__main__":
            run_as_script(main, FIGURE, __doc__)
    """
    parser = argparse.ArgumentParser(description=(doc or figure).split("\n")[0])
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--quick", action="store_true", help="coarse grids (seconds)")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    meta = main(args.out, quick=args.quick)
    print(f"{figure}: wrote {', '.join(meta['files'])} to {args.out} in {meta['runtime_s']['total']:.1f} s")
    return meta
