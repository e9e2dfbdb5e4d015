"""Running the code of the documentation's pages (not a test module itself).

Every ```` ```python ```` block of a page runs, in order, in one namespace per page
(mktestdocs), in a temporary folder; blocks fenced as ```` ```py ```` are shown only (they need a
GPU or several processes, or are run by another test).  The pages are split between
``tests/test_docs_pages_*.py`` by :data:`GROUPS` only so that pytest-xdist, which hands out
whole files (``--dist loadfile``), can run the compile-heavy tutorials on both workers; every
page with code must be in exactly one group (checked by ``test_docs_pages_other.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"

GROUPS = {
    "design": (
        "getting-started.md",
        "tutorials/fig4-own-thermal.md",
        "tutorials/client-constraint.md",
        "tutorials/scale-out.md",
        "tutorials/conditional.md",
    ),
    "beyond": ("tutorials/robust-design.md", "tutorials/asymmetry.md", "api/io.md", "lab-frame.md"),
}


def pages_with_code() -> list[str]:
    """Every page of the site (``mkdocs.yml`` excludes ``dev-notes.md`` and ``wip/``) with a
    ```` ```python ```` block."""
    fence = re.compile(r"^```python$", re.M)
    return sorted(
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*.md")
        if fence.search(p.read_text()) and "wip" not in p.parts and p.name != "dev-notes.md"
    )


def run_page(page: str, tmp_path, monkeypatch) -> None:
    import matplotlib
    from mktestdocs import check_md_file

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # files the examples write land here
    check_md_file(DOCS / page, memory=True)
