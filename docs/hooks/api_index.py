"""MkDocs hook: the table of the top-level API (``steerjax.__all__``), generated at build time.

``docs/api/index.md`` holds the marker ``<!-- top-level-api -->``.  Each top-level name is
listed with a link to its full entry on the page of the subpackage that defines it (found from
the subpackages' ``__all__``); names that live only at the top level are rendered in place.
A name added to ``steerjax.__all__`` therefore appears without any edit to the docs.
"""

from __future__ import annotations

MARKER = "<!-- top-level-api -->"
SUBPACKAGES = ("model", "optim", "analysis", "linalg", "io", "plotting")


def _first_line(obj) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    if not doc or isinstance(obj, (int, float, str, tuple, dict)):
        return ""
    return doc.splitlines()[0].replace("|", "\\|").replace("`", "")


def top_level_api_markdown() -> str:
    """A Markdown table (name, home, summary) of ``steerjax.__all__``, plus in-place entries."""
    import importlib

    import steerjax

    homes = {}
    for sub in SUBPACKAGES:
        for name in importlib.import_module(f"steerjax.{sub}").__all__:
            homes.setdefault(name, sub)
    rows, own = ["| name | where | what |", "|---|---|---|"], []
    for name in steerjax.__all__:
        if name in SUBPACKAGES:
            rows.append(f"| `{name}` | [steerjax.{name}]({name}.md) | subpackage |")
        elif name in homes:
            target = f"steerjax.{homes[name]}.{name}"
            summary = _first_line(getattr(steerjax, name))
            rows.append(f"| [`{name}`][{target}] | `steerjax.{homes[name]}` | {summary} |")
        else:
            summary = _first_line(getattr(steerjax, name))
            rows.append(f"| [`{name}`][steerjax.{name}] | top level | {summary} |")
            own.append(name)
    entries = [f"::: steerjax.{name}\n    options:\n      show_root_full_path: true\n" for name in own]
    return "\n".join(rows) + "\n\n## Defined at the top level\n\n" + "\n".join(entries)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, top_level_api_markdown())
