"""The README and the decision records cite the design (`docs/design.md`) by section: every
citation names a section, or a numbered point of one, that is there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
CITATION = re.compile(r"\bDESIGN (\d+)(?:\.(\d+))?")


def _sections() -> dict[int, str]:
    design = (ROOT / "docs" / "design.md").read_text()
    parts = re.split(r"^## (\d+)\. ", design, flags=re.MULTILINE)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_citation_of_the_design_names_a_part_of_it() -> None:
    sections = _sections()
    documents = [ROOT / "README.md", *sorted((ROOT / "docs" / "adr").glob("*.md"))]
    cited = 0
    for document in documents:
        for section, point in CITATION.findall(document.read_text()):
            cited += 1
            assert int(section) in sections, f"{document.name}: DESIGN {section}"
            if point:
                numbered = re.findall(r"^(\d+)\. ", sections[int(section)], re.MULTILINE)
                assert point in numbered, f"{document.name}: DESIGN {section}.{point}"
    assert cited > 0
