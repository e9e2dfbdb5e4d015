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


def test_conditional_example_runs_and_prints_what_the_readme_says(tmp_path, monkeypatch, capsys):
    """The conditional section's snippet continues the quick-start (same namespace)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_python_blocks("Python quick-start")[0], str(README), "exec"), namespace)  # noqa: S102
    capsys.readouterr()
    (block,) = _python_blocks("The conditional scheme (Appendix B, Fig. 8)")
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    assert abs(float(namespace["best"].value) - 0.28202373) < 1e-8
    d = namespace["imp"].d
    assert [round(float(x), 5) for x in d] == [0.02698, 0.01059, 0.00123]
