"""The documentation site builds in strict mode, covers the whole public API and the CLI, and
the code on its pages runs.

``make docs`` runs the same build (``mkdocs build --strict``): a broken link, a missing
cross-reference or a docstring the reference cannot parse fails it, and so fails this test.
The code on the pages runs in tests/test_docs_pages_*.py (see tests/_docs_pages.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SUBPACKAGES = ("model", "optim", "analysis", "linalg", "io", "plotting")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}"
    return out


def _anchors(html: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', html.read_text()))


def test_site_builds_with_every_page(site):
    for page in ("index", "getting-started", "model", "cli", "gallery", "accuracy", "performance"):
        assert (site / f"{page}.html").is_file(), page
    assert (site / "search" / "search_index.js").exists() or (site / "search" / "search_index.json").exists()


def test_api_reference_covers_the_public_api(site):
    import steerjax

    documented = set()
    for page in (site / "api").glob("*.html"):
        documented |= _anchors(page)
    missing = []
    for sub in SUBPACKAGES:
        for name in importlib.import_module(f"steerjax.{sub}").__all__:
            if f"steerjax.{sub}.{name}" not in documented:
                missing.append(f"steerjax.{sub}.{name}")
    top = (site / "api" / "index.html").read_text()
    for name in steerjax.__all__:
        if name not in SUBPACKAGES and f"<code>{name}</code>" not in top:
            missing.append(f"steerjax.{name}")
    assert not missing, f"not in the API reference: {missing}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_cli_reference_lists_every_command_and_flag(site):
    from steerjax._cli import build_parser

    page = (site / "cli.html").read_text()
    commands = _subparsers(build_parser())
    assert {"evaluate", "optimize", "figures"} <= set(commands)
    for name, sub in commands.items():
        assert f"steerjax {name}" in page, name
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in page, f"{name} {flag}"
