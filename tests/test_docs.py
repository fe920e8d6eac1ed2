"""The docs hold together: links resolve, every page is on the map, the README stays short and its
set-up commands stay the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_LIMIT = 10_240  # bytes: past this the README is a manual again, and the manual is docs/
PAGES = sorted(
    [README, ROOT / "CONTRIBUTING.md", ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md",
     *DOCS.rglob("*.md")]
)
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def _prose(text: str) -> str:
    """The text outside fenced code blocks and code spans: what renders as links and headings."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return re.sub(r"`[^`]*`", "", "\n".join(lines))  # a code span may wrap to the next line


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    lines, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    for line in lines:
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(page: Path) -> list[str]:
    text = _prose(page.read_text(encoding="utf-8"))
    return _INLINE_LINK.findall(text) + _REFERENCE_LINK.findall(text)


def _relative(target: str) -> bool:
    return not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)  # http:, https:, mailto: ...


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in filter(_relative, links(page)):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_checker_sees_links_and_anchors() -> None:
    # Guards the checker itself: a regex that matched nothing would pass every page.
    assert "docs/index.md" in links(README)
    assert "the-suno_mock-fixture" not in anchors(README)
    assert "test-your-app-with-the-suno_mock-fixture" in anchors(README)
    assert len([t for p in PAGES for t in links(p) if _relative(t) and "#" in t]) > 10


def test_every_docs_page_is_on_the_map() -> None:
    index = DOCS / "index.md"
    mapped = {(index.parent / t.partition("#")[0]).resolve() for t in links(index) if _relative(t)}
    missing = [str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md")
               if p != index and p.resolve() not in mapped]
    assert not missing, f"docs/index.md does not link to {missing}"


def test_the_readme_stays_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes: move detail into docs/"


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    setup = README.read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", setup, re.S)
    serve, tests = commands[0], commands[1]
    assert serve == "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/suno-mock serve"
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
