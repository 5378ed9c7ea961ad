"""README is a front page (<= 200 lines) and every page under docs/ is reachable from it; every
relative link in README.md and docs/*.md points to a file that exists."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def test_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{page.name}" in text, f"README does not link docs/{page.name}"
    assert "(docs/images/" in text, "the GRC screenshot"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
