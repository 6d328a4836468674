"""Input checks shared by every service: collect all problems, then refuse with all of them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from hub.errors import FieldError, InvalidInput, UserErrorCode

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Checks:
    """Accumulates field errors; `done()` raises `InvalidInput` if there were any."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, code: UserErrorCode, message: str) -> None:
        self.errors.append(FieldError((field,), message, code))

    def fail_item(self, field: str, index: int, code: UserErrorCode, message: str) -> None:
        """A problem with one entry of a list field; the path names the entry, so a form can
        mark exactly the line that is wrong."""
        self.errors.append(FieldError((field, str(index)), message, code))

    def distinct(self, field: str, values: Sequence[object]) -> None:
        """Refuse repeated entries rather than silently dropping them."""
        seen: set[object] = set()
        for index, value in enumerate(values):
            if value in seen:
                self.fail_item(field, index, UserErrorCode.DUPLICATE, "This entry is repeated.")
            seen.add(value)

    def text(self, field: str, value: str | None, *, max_length: int, required: bool) -> None:
        if value is None:
            if required:
                self.fail(field, UserErrorCode.REQUIRED, "This field is required.")
            return
        if required and not value.strip():
            self.fail(field, UserErrorCode.REQUIRED, "This field must not be blank.")
        elif len(value) > max_length:
            self.fail(field, UserErrorCode.TOO_LONG, f"At most {max_length} characters.")

    def pattern(self, field: str, value: str | None, kind: str) -> None:
        patterns = {"currency": _CURRENCY, "domain": _DOMAIN, "email": _EMAIL, "country": _COUNTRY}
        hints = {
            "currency": "an ISO 4217 code such as EUR",
            "domain": "a domain name such as example.com",
            "email": "an e-mail address",
            "country": "an ISO 3166 alpha-2 code such as DE",
        }
        if value is not None and not patterns[kind].match(value):
            self.fail(field, UserErrorCode.INVALID, f"Expected {hints[kind]}.")

    def amount(self, field: str, value: Decimal | None) -> None:
        if value is None:
            return
        if not value.is_finite() or value < 0:
            self.fail(field, UserErrorCode.OUT_OF_RANGE, "Must be zero or more.")
        elif value >= Decimal("1e16") or value.as_tuple().exponent < -2:  # type: ignore[operator]
            self.fail(field, UserErrorCode.OUT_OF_RANGE, "At most 16 digits and 2 decimals.")

    def between(self, field: str, value: int | None, low: int, high: int) -> None:
        if value is not None and not low <= value <= high:
            self.fail(field, UserErrorCode.OUT_OF_RANGE, f"Must be between {low} and {high}.")

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
