"""The store of exported programs (``steerjax.optim._program_store``) that lets a new process
skip tracing the optimiser's block program: same results, a second process loads instead of
exporting, and every failure falls back to the ordinary path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steerjax as sj
from steerjax.optim import _program_store as store


class _Affine(eqx.Module):
    a: jax.Array
    b: jax.Array
    power: int = eqx.field(static=True)


@eqx.filter_jit
def _f(m: _Affine, x, n_terms: int):
    out = m.a * x**m.power + m.b
    for k in range(n_terms):
        out = out + jnp.sin(k * x)
    return {"y": out, "total": jnp.sum(out)}


@pytest.fixture
def folder(tmp_path):
    store.use_program_store(tmp_path / "programs")
    store._load.cache_clear()
    yield tmp_path / "programs"
    store.use_program_store(None)
    store._load.cache_clear()


def _args():
    return _Affine(jnp.asarray(1.5), jnp.asarray([0.1, 0.2, 0.3]), 3), jnp.linspace(0.0, 1.0, 3), 2


def test_off_by_default_and_after_import():
    assert store.program_store_dir() is None  # importing the library switches nothing on


def test_stored_program_gives_the_same_pytree_bit_for_bit(folder, monkeypatch):
    direct = _f(*_args())
    first = store.stored_call("f", _f, *_args())
    (entry,) = list(folder.iterdir())
    assert entry.name.startswith("f-") and entry.suffix == ".jaxexport"
    store._load.cache_clear()
    monkeypatch.setattr(store, "_export", lambda *a: pytest.fail("exported again instead of loaded"))
    second = store.stored_call("f", _f, *_args())
    for out in (first, second):
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(direct)
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(direct), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_static_values_and_shapes_are_part_of_the_key(folder):
    m, x, n = _args()
    store.stored_call("f", _f, m, x, n)
    store.stored_call("f", _f, m, x, n + 1)  # another static argument
    store.stored_call("f", _f, _Affine(m.a, m.b, 2), x, n)  # another static field
    store.stored_call("f", _f, _Affine(m.a, m.b[:2], 3), x[:2], n)  # other shapes
    assert len(list(folder.iterdir())) == 4
    out = store.stored_call("f", _f, _Affine(m.a, m.b, 2), x, n)
    np.testing.assert_array_equal(np.asarray(out["y"]), np.asarray(_f(_Affine(m.a, m.b, 2), x, n)["y"]))


def test_damaged_entry_is_rebuilt(folder):
    store.stored_call("f", _f, *_args())
    (entry,) = list(folder.iterdir())
    entry.write_bytes(b"not a program")
    store._load.cache_clear()
    out = store.stored_call("f", _f, *_args())
    np.testing.assert_array_equal(np.asarray(out["total"]), np.asarray(_f(*_args())["total"]))
    store._load.cache_clear()
    assert store._load(entry) is not None  # rewritten whole


def test_entries_of_another_source_version_are_removed(folder):
    store.stored_call("f", _f, *_args())
    (entry,) = list(folder.iterdir())
    name, fingerprint, key = entry.name.split("-")
    stale = folder / f"{name}-{'0' * len(fingerprint)}-{key}"
    other_program = folder / f"g-{'0' * len(fingerprint)}-{key}"
    stale.write_bytes(b"old")
    other_program.write_bytes(b"old")
    m, x, n = _args()
    store.stored_call("f", _f, m, x, n + 1)  # a new entry of f: f's stale one goes
    assert not stale.exists() and other_program.exists() and entry.exists()


def test_functions_in_the_static_part_are_not_stored(folder):
    @eqx.filter_jit
    def g(fn, x):
        return fn(x)

    out = store.stored_call("g", g, jnp.sin, jnp.ones(3))
    np.testing.assert_array_equal(np.asarray(out), np.sin(np.ones(3)))
    assert not folder.exists() or not list(folder.iterdir())


def test_a_second_process_loads_the_program_and_prints_the_same(tmp_path):
    """The command line, twice, with its cache in ``tmp_path``: one program entry, written by the
    first run and read by the second (the key is stable across processes), and the same JSON,
    whose optimum is the in-process (store-less) optimum bit for bit."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["STEERJAX_CACHE_DIR"] = str(tmp_path / "cache")
    cmd = [sys.executable, "-c", "import sys; from _steerjax_cli import main; sys.exit(main())"]
    cmd += ["optimize", "--thermal", "hot", "--c-minus", "10", "--json"]
    runs, entries = [], []
    for _ in range(2):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        runs.append(done.stdout)
        entries.append({p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "programs").iterdir()})
    assert runs[0] == runs[1]
    assert len(entries[0]) == 1 and entries[0] == entries[1]  # not rewritten by the second run
    ours = sj.optimize(sj.Problem(sj.HOT, np.array([10.0])))
    (row,) = json.loads(runs[0])
    assert row["E"] == float(ours.value[0]) and row["C_plus"] == float(ours.design.C_plus[0])
