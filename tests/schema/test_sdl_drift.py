"""schema/schema.graphql is the printed schema; regenerate it when this fails:

    .venv/bin/python -c "from schema import build_schema; print(build_schema().as_str())" \\
        > schema/schema.graphql
"""

from __future__ import annotations

from pathlib import Path

from schema import build_schema

SDL = Path(__file__).parents[2] / "schema" / "schema.graphql"


def test_printed_schema_matches_the_code() -> None:
    assert SDL.read_text() == build_schema().as_str() + "\n"
