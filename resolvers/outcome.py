"""The result of a mutation: the record, or the user errors that stopped it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from hub.errors import FieldError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def ok(cls, value: T) -> Outcome[T]:
        return cls(value=value)

    @classmethod
    def failed(cls, errors: list[FieldError]) -> Outcome[T]:
        return cls(errors=errors)
