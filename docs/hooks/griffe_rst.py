"""Griffe extension for the docs build: read steerjax's reST-flavoured docstrings as Markdown.

The docstrings are written for ``help()`` and doctest first, with Sphinx-style roles
(``:class:`Problem```) and ``.. math::`` blocks.  mkdocstrings renders Markdown, so before the
Google-style sections are parsed this extension rewrites a role to plain inline code and a math
block to a fenced text block.  Nothing else of the text is changed.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:class|func|data|mod|attr|meth|obj|exc|math|py:\w+):`~?([^`]+)`")
_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)
_MATH = re.compile(
    r"^(?P<indent>[ \t]*)\.\. math::[ \t]*\n(?P<body>(?:(?P=indent)[ \t]+.*\n|[ \t]*\n)+)", re.M
)


def _math_block(match: re.Match) -> str:
    indent = match.group("indent")
    lines = [line.strip() for line in match.group("body").rstrip().splitlines()]
    return f"{indent}```text\n" + "".join(f"{indent}{line}\n" for line in lines) + f"{indent}```\n\n"


def markdown_from_rest(text: str) -> str:
    """Roles to inline code, ``.. math::`` blocks to fenced blocks, and an ``Example:`` header to
    ``Examples:`` (griffe reads ``Example:`` as an admonition, so its doctest would be rendered
    as Markdown text; see the module docstring)."""
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    return _MATH.sub(_math_block, text + "\n").rstrip("\n")


class RestToMarkdown(griffe.Extension):
    """Applies :func:`markdown_from_rest` to every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_from_rest(obj.docstring.value)
