"""Every documentation page with code is run by exactly one group (tests/_docs_pages.py)."""

from _docs_pages import GROUPS, pages_with_code


def test_every_page_with_code_is_in_one_group():
    grouped = [p for pages in GROUPS.values() for p in pages]
    assert sorted(grouped) == pages_with_code(), "add the page to tests/_docs_pages.GROUPS"
