"""Column values as a GraphQL response writes them, computed by PostgreSQL.

Each is the exact text the generic path produces (strawberry's scalars over the row's Python
values), so the compiled and generic answers are equal byte for byte.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, case, cast, extract, func, literal

from hub.exposure import Value
from hub.pagination import CURSOR_PREFIX


def _urlsafe_base64(prefix: str, record_id: ColumnElement[Any]) -> ColumnElement[str]:
    """URL-safe base64 of `prefix` and the uuid's text (PostgreSQL's base64 breaks lines every
    76 characters; the translation drops the break and swaps the alphabet)."""
    raw = func.convert_to(func.concat(literal(prefix), cast(record_id, Text)), "UTF8")
    return func.translate(func.encode(raw, "base64"), "+/\n", "-_")


def global_id(type_name: str, record_id: ColumnElement[Any]) -> ColumnElement[str]:
    """`resolvers.ids.encode_id`: a Relay global id, `Type:uuid`."""
    return _urlsafe_base64(f"{type_name}:", record_id)


def cursor(record_id: ColumnElement[Any]) -> ColumnElement[str]:
    """`hub.pagination.encode_cursor`: the cursor naming a row."""
    return _urlsafe_base64(CURSOR_PREFIX.decode(), record_id)


def iso_timestamp(moment: ColumnElement[Any]) -> ColumnElement[str]:
    """`datetime.isoformat()` of a UTC timestamp: microseconds only when there are any."""
    utc = func.timezone("UTC", moment)
    fraction = case(
        (extract("microseconds", moment) % 1000000 != 0, func.to_char(utc, ".US")), else_=""
    )
    return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS').concat(fraction).concat("+00:00")


def response_value(value: Value, column: ColumnElement[Any], type_name: str) -> ColumnElement[Any]:
    if value is Value.ID:
        return global_id(type_name, column)
    if value is Value.DECIMAL:
        return cast(column, Text)
    if value is Value.DATE:
        return func.to_char(column, "YYYY-MM-DD")
    if value is Value.TIMESTAMP:
        return iso_timestamp(column)
    return column
