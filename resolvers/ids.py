"""Opaque Relay global ids: base64 of `Type:uuid`. A wrong or malformed id is `NotFound`."""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from collections.abc import Mapping
from typing import TypeVar

from hub.errors import InvalidInput, NotFound, UserErrorCode

T = TypeVar("T")


class NodeType(enum.StrEnum):
    """GraphQL type names that carry global ids; the names match the schema's types."""

    CUSTOMER = "Customer"
    CONTACT = "Contact"
    OPPORTUNITY = "Opportunity"
    CASE = "Case"
    CASE_COMMENT = "CaseComment"
    USER = "User"
    API_CLIENT = "ApiClient"
    ORGANISATION = "Organisation"
    PARTNERSHIP = "Partnership"
    GRANT = "Grant"
    DEAL_REGISTRATION = "DealRegistration"
    AUDIT_EVENT = "AuditEvent"
    PRIVACY_NOTICE = "PrivacyNotice"


def encode_id(node_type: NodeType, record_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{node_type.value}:{record_id}".encode()).decode()


def decode_any_id(global_id: str, *, field: str = "id") -> tuple[NodeType, uuid.UUID]:
    """Split a global id; anything malformed answers like an id that does not exist."""
    try:
        raw = base64.urlsafe_b64decode(global_id.encode("ascii")).decode("utf-8")
        type_name, _, raw_uuid = raw.partition(":")
        return NodeType(type_name), uuid.UUID(raw_uuid)
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise NotFound(field) from error


def decode_id(global_id: str, expected: NodeType, *, field: str = "id") -> uuid.UUID:
    """The uuid inside `global_id` if it names an `expected` record, else `NotFound`."""
    node_type, record_id = decode_any_id(global_id, field=field)
    if node_type is not expected:
        raise NotFound(field)
    return record_id


def decode_accepted(
    global_id: str, accepted: Mapping[NodeType, T], field: str, what: str
) -> tuple[T, uuid.UUID]:
    """A global id of an accepted type; anything else is bad input, named, and never looked up."""
    refused = InvalidInput.on(field, UserErrorCode.INVALID, f"Give the global id of {what}.")
    try:
        node_type, record_id = decode_any_id(global_id, field=field)
    except NotFound:
        raise refused from None
    if node_type not in accepted:
        raise refused
    return accepted[node_type], record_id
