"""The README and guides link to each other by relative paths and #anchors: each must
point to a file in the repository and, with an anchor, to one of its headings."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
             REPO / "models" / "soundwatch.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target), the target without spaces


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation other than
    hyphens dropped, spaces as hyphens."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            words = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(words.replace(" ", "-"))
    return anchors


def local_links(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    # a link split over two lines is joined (the guides wrap at 90 characters)
    text = re.sub(r"\]\(([^)]*)\n\s*", r"](\1", text)
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]  # http:, mailto: ...


def test_heading_anchors_follow_github_rules():
    anchors = heading_anchors("## No microphone? A virtual one\n### Why didn't it fire?\n")
    assert anchors == {"no-microphone-a-virtual-one", "why-didnt-it-fire"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_reach_a_file_and_heading(document):
    broken = []
    for target in local_links(document):
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(REPO)}")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(
                linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with that anchor in {linked.name}")
    assert not broken, f"{document.name}: " + "; ".join(broken)
