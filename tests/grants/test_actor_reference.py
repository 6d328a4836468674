"""`granted_by` and `revoked_by` name the person who acted, or the client when no person did."""

from __future__ import annotations

import uuid

from hub.access.actor import Actor, Role
from hub.grants.service import actor_reference


def test_a_person_is_named_before_the_client_they_used() -> None:
    user_id = uuid.uuid4()
    actor = Actor(
        org_id=uuid.uuid4(),
        scopes=frozenset(),
        client_id="hub_portal",
        request_id="r1",
        user_id=user_id,
        role=Role.ADMIN,
    )

    assert actor_reference(actor) == f"user:{user_id}"


def test_a_machine_client_is_named_by_its_client_id() -> None:
    actor = Actor(org_id=uuid.uuid4(), scopes=frozenset(), client_id="hub_erp", request_id="r2")

    assert actor_reference(actor) == "client:hub_erp"
