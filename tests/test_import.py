"""Importing steerjax changes no global JAX configuration; presets follow the precision in force."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_import_leaves_x64_alone_and_presets_follow_it():
    out = _run(
        """
        import jax
        import steerjax as sj
        before = jax.config.jax_enable_x64
        f32 = sj.HOT.gamma0_plus_hz.dtype
        sj.enable_x64()
        print(before, f32, sj.HOT.gamma0_plus_hz.dtype, sj.VACUUM_SERVER.gamma0_plus_hz.dtype,
              float(sj.HOT.gamma0_plus_hz) == 0.1)
        """
    )
    assert out == "False float32 float64 float64 True"


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    import steerjax as sj

    with pytest.raises(AttributeError, match="no_such_name"):
        sj.no_such_name  # noqa: B018
