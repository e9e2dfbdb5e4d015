"""A store of exported (traced and lowered) programs, so that a new process skips tracing.

JAX's persistent compilation cache saves the *compilation* of a program, but every new process
still traces and lowers it to compute the cache key.  For the optimiser's search-pool block
that tracing is most of a warm command-line run (about 2.5 s of the 4.4 s that
``steerjax optimize --thermal hot --c-minus 10`` took with a warm cache on the 2-core CPU;
see ``docs/performance.md``).  This module keeps each such program as a serialized
:mod:`jax.export` artefact: a later process deserializes it (milliseconds) and runs it through
``jax.jit(exported.call)``, whose compilation the persistent cache then provides.  Written by
hand because neither JAX nor equinox offers a tracing cache across processes.

The store is off unless an entry point switches it on (:func:`use_program_store`; the
``steerjax`` command does, next to the compilation cache), so importing the library changes
nothing.  A program is stored under a key made of everything that determines it: the
library's own source (a hash of its ``.py`` files, so an edited checkout never reuses a stale
program), the versions of jax and jaxlib, the backend and device kind, the program's name, the
tree structure and static values of its arguments, and the shape and dtype of every array.
Calls whose static part holds a function (a custom objective) are not stored: a function has no
stable identity across processes.  A missing, unreadable or incompatible entry is simply
rebuilt; a program that cannot be exported runs the ordinary way; entries written by another
version of the source are deleted when a new one is written.  Entries are written to a
temporary file and renamed, so a reader never sees half of one.  The entries are pickles read
only from the user's own cache folder (as JAX's own cache is).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import warnings
from pathlib import Path

import equinox as eqx
import jax

from .._io import atomic_write_bytes

__all__ = [
    "use_program_store",
    "program_store_dir",
    "stored_call",
    "compilation_cache_dir",
    "use_compilation_cache",
]

_STORE: dict[str, Path | None] = {"dir": None}
_FORMAT = 1  # bump when the entry layout changes


def use_program_store(folder) -> None:
    """Keep exported programs in ``folder`` (created on first write); ``None`` switches the
    store off (the default).  Meant for entry points such as the ``steerjax`` command."""
    _STORE["dir"] = None if folder is None else Path(folder)


def program_store_dir() -> Path | None:
    """The folder of the program store, or None when it is off."""
    return _STORE["dir"]


def compilation_cache_dir() -> Path | None:
    """The folder of the persistent caches that the ``steerjax`` command uses (None: switched
    off): ``$STEERJAX_CACHE_DIR`` (``off``, ``0``, ``none`` or ``false`` switch it off), else
    ``$XDG_CACHE_HOME/steerjax/jax``, else ``~/.cache/steerjax/jax``."""
    chosen = os.environ.get("STEERJAX_CACHE_DIR", "").strip()
    if chosen.lower() in ("off", "0", "none", "false"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "steerjax" / "jax"


def use_compilation_cache(folder: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled and traced programs across processes, as the ``steerjax`` command does, so
    that a second run of the same optimisation skips most of the compilation: JAX's persistent
    compilation cache in ``folder`` (default :func:`compilation_cache_dir`), for small programs
    too, and the optimiser's traced programs in its ``programs`` folder
    (:func:`use_program_store`).  This changes JAX's global configuration, so it is for entry
    points and scripts.  A cache folder already configured for JAX is left alone, and so is a
    folder that cannot be created (a read-only home): then nothing changes.  Returns the folder
    used, or None."""
    folder = compilation_cache_dir() if folder is None else Path(folder)
    if folder is None or jax.config.jax_compilation_cache_dir:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # read-only home etc.: run without the cache
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # also the small programs (the default caches only those that took over 1 s to compile, but
    # a command runs dozens of small ones: 0.8 s of a warm run)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    use_program_store(folder / "programs")  # skip tracing the optimiser's block program
    return folder


@functools.cache
def _source_fingerprint() -> str:
    """Hash of the library's ``.py`` files (names and contents), computed once per process."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _has_function(tree) -> bool:
    return any(callable(leaf) for leaf in jax.tree_util.tree_leaves(tree))


def _key(name: str, leaves, dynamic_def, static) -> str:
    import jaxlib

    device = jax.devices()[0]
    parts = (
        _FORMAT,
        _source_fingerprint(),
        jax.__version__,
        jaxlib.__version__,
        device.platform,
        device.device_kind,
        name,
        str(dynamic_def),
        str(jax.tree_util.tree_structure(static)),
        repr(jax.tree_util.tree_leaves(static)),
        [(tuple(x.shape), str(x.dtype), bool(getattr(x, "weak_type", False))) for x in leaves],
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _jit(exported, options: tuple):
    """The exported program as a jitted call, compiled with the XLA ``options`` (pairs)."""
    return jax.jit(exported.call, compiler_options=dict(options) or None)


@functools.lru_cache(maxsize=64)
def _load(path: Path, options: tuple = ()):
    """``(jitted call, output tree)`` of a stored entry, or None if it cannot be used."""
    try:
        with open(path, "rb") as f:
            fmt, blob, skeleton = pickle.load(f)
        if fmt != _FORMAT:
            return None
        exported = jax.export.deserialize(blob)
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is rebuilt, never fatal
        return None
    return _jit(exported, options), jax.tree_util.tree_structure(skeleton)


def _write(path: Path, exported, out_tree) -> None:
    skeleton = jax.tree_util.tree_unflatten(out_tree, [0] * out_tree.num_leaves)
    atomic_write_bytes(path, pickle.dumps((_FORMAT, exported.serialize(), skeleton)))


def _remove_stale(path: Path) -> None:
    """Delete the entries of the same program written by other versions of the library's
    source (they can never be used again; an edited checkout would otherwise pile them up)."""
    name, fingerprint = path.name.split("-")[:2]
    for other in path.parent.glob(f"{name}-*.jaxexport"):
        if other.name.split("-")[1] != fingerprint:
            other.unlink(missing_ok=True)


def stored_call(name: str, fn, *args, compiler_options: dict | None = None):
    """``fn(*args)`` for a jitted ``fn`` (``eqx.filter_jit``), through the program store when it
    is on: the exported program is loaded, or exported and saved, and then called.
    ``compiler_options``: the XLA options ``fn`` was jitted with (the loaded program is compiled
    with the same ones).

    The result is the same pytree, with the same values, as ``fn(*args)``: it is the same
    lowered program, compiled by the same XLA.
    """
    folder = _STORE["dir"]
    dynamic, static = eqx.partition(args, eqx.is_array)
    if folder is None or _has_function(static):
        return fn(*args)
    leaves, dynamic_def = jax.tree_util.tree_flatten(dynamic)
    path = folder / f"{name}-{_source_fingerprint()[:8]}-{_key(name, leaves, dynamic_def, static)}.jaxexport"
    options = tuple(sorted((compiler_options or {}).items()))
    entry = _load(path, options) if path.exists() else None
    if entry is None:
        _load.cache_clear()
        entry = _export(path, fn, leaves, dynamic_def, static, options)
        if entry is None:
            return fn(*args)
    call, out_tree = entry
    return jax.tree_util.tree_unflatten(out_tree, call(*leaves))


def _export(path: Path, fn, leaves, dynamic_def, static, options: tuple = ()):
    inner = getattr(fn, "__wrapped__", fn)  # the function under eqx.filter_jit
    out_trees = []

    def flat(*xs):
        out = inner(*eqx.combine(jax.tree_util.tree_unflatten(dynamic_def, xs), static))
        leaves_out, tree = jax.tree_util.tree_flatten(out)
        out_trees.append(tree)
        return leaves_out

    specs = [jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=getattr(x, "weak_type", False)) for x in leaves]
    try:
        exported = jax.export.export(jax.jit(flat))(*specs)
    except Exception as exc:  # noqa: BLE001 - e.g. a custom call that export does not allow
        warnings.warn(
            f"program store: {exc.__class__.__name__} while exporting {path.name}; not stored", stacklevel=3
        )
        return None
    try:
        _write(path, exported, out_trees[-1])
        _remove_stale(path)
    except OSError:
        pass  # a read-only cache: run from memory
    return _jit(exported, options), out_trees[-1]
