"""Field policy for personal data: which fields a grant shows, masks or hides, and the masks.

A mask keeps a hint that lets a partner recognise a person it already knows, and nothing it
could use to reach someone it does not: an address keeps its first letter and its domain, a
phone number its last two digits, a name its initials.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping

from hub.grants.models import FieldVisibility

MASK = "•"


class PersonalField(enum.StrEnum):
    """The personal-data fields a field policy speaks of (contacts of a customer)."""

    FULL_NAME = "fullName"
    EMAIL = "email"
    PHONE = "phone"
    JOB_TITLE = "jobTitle"


_RANK = {FieldVisibility.HIDDEN: 0, FieldVisibility.MASKED: 1, FieldVisibility.VISIBLE: 2}


def mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return MASK * 3
    return f"{local[0]}{MASK * 3}@{domain}"


def mask_phone(value: str) -> str:
    digits = [char for char in value if char.isdigit()]
    if len(digits) < 6:
        return MASK * 3
    return MASK * (len(digits) - 2) + "".join(digits[-2:])


def mask_name(value: str) -> str:
    initials = [word[0].upper() for word in value.split() if word[:1].isalpha()]
    return " ".join(f"{initial}." for initial in initials) or MASK * 3


def mask_title(value: str) -> str:
    return MASK * 3


MASKS: dict[PersonalField, Callable[[str], str]] = {
    PersonalField.FULL_NAME: mask_name,
    PersonalField.EMAIL: mask_email,
    PersonalField.PHONE: mask_phone,
    PersonalField.JOB_TITLE: mask_title,
}


def combined_policy(
    policies: Iterable[Mapping[str, str]],
) -> dict[PersonalField, FieldVisibility]:
    """Per field, the most visible value over the grants that cover a record.

    A field a grant does not name is HIDDEN under that grant: sharing personal data is
    always a decision someone wrote down.
    """
    combined = dict.fromkeys(PersonalField, FieldVisibility.HIDDEN)
    for policy in policies:
        for field in PersonalField:
            named = FieldVisibility(policy.get(field.value, FieldVisibility.HIDDEN))
            if _RANK[named] > _RANK[combined[field]]:
                combined[field] = named
    return combined


def apply_policy(
    field: PersonalField, visibility: FieldVisibility, value: str | None
) -> str | None:
    """The value a partner receives for one field."""
    if value is None or visibility is FieldVisibility.HIDDEN:
        return None
    if visibility is FieldVisibility.MASKED:
        return MASKS[field](value)
    return value
