"""MkDocs hook: the command-line reference page is generated from the argparse parsers.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is replaced by the
``--help`` text of ``steerjax`` and of every subcommand, taken from the same parsers the
``steerjax`` command runs (``steerjax._cli.build_parser``), so the reference cannot drift
from the code.  A new subcommand appears here without any edit to the docs.
"""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"
HELP_WIDTH = "100"  # argparse wraps to $COLUMNS; fixed so that the page does not depend on the terminal


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference_markdown() -> str:
    """The help of ``steerjax`` and of each subcommand, as Markdown sections."""
    from steerjax._cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        sections = [f"## `steerjax`\n\n```text\n{parser.format_help().rstrip()}\n```\n"]
        for name, sub in _subcommands(parser).items():
            sections.append(f"## `steerjax {name}`\n\n```text\n{sub.format_help().rstrip()}\n```\n")
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference_markdown())
