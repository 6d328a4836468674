"""Case-insensitive substring search, served by the trigram indexes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute


def contains_text(column: InstrumentedAttribute[Any], needle: str) -> ColumnElement[bool]:
    """`column ILIKE %needle%` with the needle's own wildcards taken literally."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
