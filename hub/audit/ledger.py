"""Appending to the ledger: what a transaction records is chained in when it commits.

Events wait in the session until its outermost transaction commits; then they are appended, one
statement per organisation's chain, in a fixed order of organisations (so two transactions
appending to the same chains cannot deadlock), as the last work before COMMIT (so a chain's
lock is held for as short a time as possible). If appending fails, the commit fails: the work
and its events are written together or not at all. A savepoint that rolls back takes the
events recorded inside it along.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.types import Text, Uuid

from hub.audit.chain import canonical

_PENDING = "hub.audit.pending"
_MARKS = "hub.audit.marks"
_BEFORE_APPEND = "hub.audit.before_append"

_APPEND = text("SELECT hub_audit_append(:chain, :events)").bindparams(
    bindparam("chain", type_=Uuid()), bindparam("events", type_=ARRAY(Text()))
)


def pending(session: Session) -> list[dict[str, Any]]:
    """The canonical documents this session's transaction will append, in recording order."""
    queue: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    return queue


def before_append(session: Session, hook: Callable[[Session], None]) -> None:
    """Run `hook` when the transaction commits, before its events are appended (once)."""
    hooks: dict[str, Callable[[Session], None]] = session.info.setdefault(_BEFORE_APPEND, {})
    hooks.setdefault(getattr(hook, "__qualname__", repr(hook)), hook)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(pending(session))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    marks: dict[int, int] = session.info.get(_MARKS, {})
    if previous_transaction.nested:
        mark = marks.pop(id(previous_transaction), None)
        if mark is not None:
            del pending(session)[mark:]
        return
    session.info.pop(_PENDING, None)
    session.info.pop(_MARKS, None)
    session.info.pop(_BEFORE_APPEND, None)


@event.listens_for(Session, "before_commit")
def _append(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return
    for hook in session.info.pop(_BEFORE_APPEND, {}).values():
        hook(session)
    queue = session.info.pop(_PENDING, [])
    session.info.pop(_MARKS, None)
    ordered = sorted(queue, key=lambda document: document["org_id"])
    for chain, documents in groupby(ordered, key=lambda document: document["org_id"]):
        session.execute(
            _APPEND,
            {"chain": uuid.UUID(chain), "events": [canonical(doc) for doc in documents]},
        )
