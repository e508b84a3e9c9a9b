"""Every relative link in the documentation points at a file (and heading) that exists.

Checked: README.md, CHANGELOG.md, docs/**/*.md and models/*/README.md. A link is a markdown
``[text](target)``; external targets (``http:``, ``https:``, ``mailto:``) are skipped, nothing is
fetched. ``path#anchor`` must name a heading of that file, as GitHub slugs it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# [text](target) or [text](target "title"); images too. Text may hold `code` and brackets one deep.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "CHANGELOG.md"]
    files += sorted((REPO / "docs").rglob("*.md"))
    files += sorted(REPO.glob("models/*/README.md"))
    return [path for path in files if path.is_file()]


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def links(text: str) -> list[str]:
    """Relative link targets in a markdown text (external links and code left out)."""
    found = []
    for line in _prose_lines(text):
        for match in _LINK.finditer(line):
            target = match.group(1)
            if not _EXTERNAL.match(target):
                found.append(target)
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces -> '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    kept = []
    for char in text:
        if char in (" ", "-", "_") or unicodedata.category(char)[0] in "LN":
            kept.append("-" if char == " " else char)
    return "".join(kept)


def anchors(text: str) -> set[str]:
    """Every heading anchor of a markdown text; repeated headings get -1, -2... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for line in _prose_lines_keep_code(text):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def _prose_lines_keep_code(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def broken_links(source: Path, text: str) -> list[str]:
    """Every relative link of ``text`` (a file at ``source``) that does not resolve."""
    broken = []
    for target in links(text):
        path_part, _, anchor = target.partition("#")
        resolved = (source.parent / path_part).resolve() if path_part else source
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
            continue
        if anchor and resolved.suffix == ".md" and resolved.is_file():
            if anchor not in anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{target} (no heading #{anchor})")
    return broken


def test_extractor_finds_links_and_skips_code_and_urls() -> None:
    text = ("See [the guide](docs/index.md), [`code` in text](a.md#x) and [web](https://e.org).\n"
            "Inline `[not](a link.md)`.\n```\n[also not](fenced.md)\n```\n![img](pic.png \"t\")\n")
    assert links(text) == ["docs/index.md", "a.md#x", "pic.png"]


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading: with `code`, punctuation!\n## Twice\n## Twice\n")
    source = tmp_path / "page.md"
    text = ("[ok](there.md) [ok](there.md#a-heading-with-code-punctuation) [ok](there.md#twice-1) "
            "[ok](#local) [gone](missing.md) [bad anchor](there.md#nowhere)\n# Local\n")
    source.write_text(text)
    assert broken_links(source, text) == ["missing.md (no such file)",
                                          "there.md#nowhere (no heading #nowhere)"]


def test_slug_follows_github() -> None:
    assert slug("Serving a trim as a head cut") == "serving-a-trim-as-a-head-cut"
    assert slug("Retraining: `outreach retrain`") == "retraining-outreach-retrain"
    assert slug("Vocabulary trim (`outreach quantize --trim-vocab N`)") == \
        "vocabulary-trim-outreach-quantize---trim-vocab-n"


def test_there_are_docs_to_check() -> None:
    names = {path.relative_to(REPO).as_posix() for path in doc_files()}
    assert {"README.md", "CHANGELOG.md", "docs/index.md"} <= names


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path, path.read_text(encoding="utf-8")) == []
