"""The README's Python quick-start runs as written (float64 enabled by its first lines)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_python_quick_start_runs(tmp_path, monkeypatch, capsys):
    blocks = _python_blocks("Python quick-start")
    assert blocks, "the README has no Python quick-start"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "two-way" in out and "0.285043" in out
    assert (tmp_path / "optimal_E_minus_given_plus.csv").exists()
    assert abs(float(namespace["tol"].eps_max[1]) - 0.9) < 0.01
