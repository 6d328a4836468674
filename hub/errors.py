"""Typed errors raised by services; the GraphQL edge turns them into user errors or codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class UserErrorCode(enum.Enum):
    """Why a mutation did not happen; stable values clients can switch on."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_FOUND = "NOT_FOUND"
    STALE = "STALE"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    DUPLICATE = "DUPLICATE"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; `field` is the path inside `input`."""

    field: tuple[str, ...]
    message: str
    code: UserErrorCode


class HubError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(HubError):
    """The record does not exist or the caller may not see it: the two are indistinguishable."""

    def __init__(self, field: str = "id") -> None:
        super().__init__("not found")
        self.field = field


class Unauthenticated(HubError):
    """No valid credentials came with the request."""


class Forbidden(HubError):
    """The caller is known but lacks the scope or role the operation needs."""


class InvalidInput(HubError):
    """One or more input fields are wrong; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(e.field)}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def on(cls, field: str, code: UserErrorCode, message: str | None = None) -> InvalidInput:
        return cls([FieldError((field,), message or _DEFAULT_MESSAGES[code], code)])


class Conflict(InvalidInput):
    """The record changed since the caller read it (optimistic concurrency)."""

    def __init__(self, field: str = "version") -> None:
        super().__init__(
            [
                FieldError(
                    (field,),
                    "The record was changed by someone else; reload and try again.",
                    UserErrorCode.STALE,
                )
            ]
        )


_DEFAULT_MESSAGES = {
    UserErrorCode.INVALID: "Invalid value.",
    UserErrorCode.REQUIRED: "This field is required.",
    UserErrorCode.TOO_LONG: "Value is too long.",
    UserErrorCode.OUT_OF_RANGE: "Value is out of range.",
    UserErrorCode.NOT_FOUND: "No such record.",
    UserErrorCode.STALE: "The record was changed by someone else; reload and try again.",
    UserErrorCode.INVALID_TRANSITION: "That status change is not allowed.",
    UserErrorCode.DUPLICATE: "A record with this value already exists.",
}
