"""Where the `steerjax` command keeps JAX's persistent compilation cache (``_cli.__init__``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from steerjax._cli import compilation_cache_dir


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
