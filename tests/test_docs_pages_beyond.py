"""The code of the documentation pages of group "beyond" runs (tests/_docs_pages.py)."""

import pytest

from _docs_pages import GROUPS, run_page


@pytest.mark.parametrize("page", GROUPS["beyond"])
def test_page_code_runs(page, tmp_path, monkeypatch):
    run_page(page, tmp_path, monkeypatch)
