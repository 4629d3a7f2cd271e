"""Griffe extension for the documentation site (mkdocs.yml loads it): the package's docstrings are
plain reST-ish text that mkdocstrings renders as Markdown, so two reST habits are rewritten there.

- Sphinx roles, ``:class:`~ase_e3density.phonon.PhononDOS` `` -> `` `PhononDOS` `` (code text, the
  leading ``~`` keeping only the last name as Sphinx does);
- numpy-style section underlines (``Parameters`` over ``----------``) -> a bold title, and the
  ``name : description`` lines under it -> a list, instead of a Markdown heading and one run-on paragraph.

The docstrings themselves are not changed; only what the site shows.
"""
from __future__ import annotations

import re

from griffe import Extension

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")
_UNDERLINE = re.compile(r"-{3,}")
_ENTRY = re.compile(r"^(?P<name>[A-Za-z_*][\w*]*) : (?P<text>.*)$")


def _role(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _sections(text: str) -> str:
    """Numpy-style sections as a bold title followed by a list of ``name : text`` entries."""
    lines, out, in_section, i = text.split("\n"), [], False, 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and _UNDERLINE.fullmatch(following) and len(following) >= len(line.strip()):
            out += [f"**{line.strip()}**", ""]
            in_section, i = True, i + 2
            continue
        entry = _ENTRY.match(line) if in_section else None
        if entry:
            out.append(f"- `{entry.group('name')}`: {entry.group('text')}")
        elif in_section and line.startswith(" ") and line.strip():
            out.append("  " + line.strip())  # a continuation line of the entry above
        else:
            in_section = in_section and not line.strip()  # a blank line keeps the section, other text ends it
            out.append(line)
        i += 1
    return "\n".join(out)


def rewrite(text: str) -> str:
    """The docstring ``text`` as the site shows it."""
    return _sections(_ROLE.sub(_role, text))


class SphinxRoles(Extension):
    """Rewrites each object's docstring (see the module docstring) as it is loaded."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
