"""Where the `steerjax` command keeps JAX's persistent compilation cache
(:func:`steerjax.optim.compilation_cache_dir`, used by :func:`steerjax.optim.use_compilation_cache`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from steerjax.optim import compilation_cache_dir, use_compilation_cache


@pytest.mark.parametrize("value", ["off", "OFF", "0", "none", "false"])
def test_switched_off(monkeypatch, value):
    monkeypatch.setenv("STEERJAX_CACHE_DIR", value)
    assert compilation_cache_dir() is None


def test_explicit_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STEERJAX_CACHE_DIR", str(tmp_path / "cache"))
    assert compilation_cache_dir() == tmp_path / "cache"


def test_default_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("STEERJAX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache_dir() == tmp_path / "steerjax" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compilation_cache_dir() == Path(tmp_path / "home") / ".cache" / "steerjax" / "jax"


def test_use_compilation_cache_leaves_a_configured_cache_alone(monkeypatch, tmp_path):
    import jax

    from steerjax.optim import _program_store

    configured = jax.config.jax_compilation_cache_dir
    before = _program_store.program_store_dir()
    if configured:  # the test suite's own cache (conftest): nothing changes
        assert use_compilation_cache(tmp_path / "other") is None
        assert jax.config.jax_compilation_cache_dir == configured
        assert _program_store.program_store_dir() == before
        assert not (tmp_path / "other").exists()
    monkeypatch.setenv("STEERJAX_CACHE_DIR", "off")
    assert use_compilation_cache() is None
