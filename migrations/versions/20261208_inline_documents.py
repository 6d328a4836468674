"""Disclosure documents are kept compressed in their rows, not in TOAST tables.

A partner read's waiting disclosure is about 12 KB of text (a page of 50 opportunities and their
customers) that compresses to about 6 KB, and its sealed event's details to about the same. Kept
out of line, each went to the TOAST table in 2 KB chunks, with an index entry per chunk: 32
concurrent readers queued on that table's extension lock, and the sealer read the chunks back
through the index. With storage MAIN a compressed document that fits a page stays in its row;
one that does not still goes out of line (ADR 0021).

Revision ID: 20261208_inline_documents
Revises: 20261208_pending_space_reused
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20261208_inline_documents"
down_revision: str | None = "20261208_pending_space_reused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("audit_pending_disclosures", "document"), ("audit_events", "details"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE MAIN")


def downgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTENDED")
