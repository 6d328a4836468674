"""Masks keep a hint and nothing more; a policy combines grants field by field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.grants.masking import (
    MASK,
    PersonalField,
    apply_policy,
    combined_policy,
    mask_email,
    mask_name,
    mask_phone,
)
from hub.grants.models import FieldVisibility


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jane.doe@example.com", f"j{MASK * 3}@example.com"),
        ("J@x.org", f"J{MASK * 3}@x.org"),
        ("no-at-sign", MASK * 3),
        ("@example.com", MASK * 3),
    ],
)
def test_an_email_keeps_its_first_letter_and_domain(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+44 20 7946 0958", MASK * 10 + "58"),
        ("0049-30-123456", MASK * 10 + "56"),
        ("12", MASK * 3),
    ],
)
def test_a_phone_keeps_its_last_two_digits(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_a_name_keeps_its_initials() -> None:
    assert mask_name("jane van der Berg") == "J. V. D. B."
    assert mask_name("  ") == MASK * 3


@given(local=st.text(min_size=2, max_size=30).filter(lambda text: "@" not in text))
def test_an_email_mask_never_shows_more_than_one_letter_of_the_local_part(local: str) -> None:
    assert mask_email(f"{local}@example.com") == f"{local[0]}{MASK * 3}@example.com"


@given(digits=st.text(alphabet="0123456789", min_size=6, max_size=15))
def test_a_phone_mask_shows_exactly_the_last_two_digits(digits: str) -> None:
    masked = mask_phone(digits)
    assert masked[-2:] == digits[-2:]
    assert set(masked[:-2]) == {MASK}


def test_the_most_visible_policy_wins_and_unnamed_fields_are_hidden() -> None:
    combined = combined_policy(
        [
            {"email": "MASKED", "phone": "VISIBLE"},
            {"email": "VISIBLE", "fullName": "MASKED"},
        ]
    )

    assert combined == {
        PersonalField.EMAIL: FieldVisibility.VISIBLE,
        PersonalField.PHONE: FieldVisibility.VISIBLE,
        PersonalField.FULL_NAME: FieldVisibility.MASKED,
        PersonalField.JOB_TITLE: FieldVisibility.HIDDEN,
    }
    assert combined_policy([]) == dict.fromkeys(PersonalField, FieldVisibility.HIDDEN)


@pytest.mark.parametrize(
    ("visibility", "expected"),
    [
        (FieldVisibility.VISIBLE, "jane@example.com"),
        (FieldVisibility.MASKED, f"j{MASK * 3}@example.com"),
        (FieldVisibility.HIDDEN, None),
    ],
)
def test_apply_policy(visibility: FieldVisibility, expected: str | None) -> None:
    assert apply_policy(PersonalField.EMAIL, visibility, "jane@example.com") == expected
    assert apply_policy(PersonalField.EMAIL, visibility, None) is None
