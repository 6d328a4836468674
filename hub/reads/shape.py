"""What a document selects on a record: response keys, in the order the response lists them."""

from __future__ import annotations

from dataclasses import dataclass

from hub.exposure import Exposure


@dataclass(frozen=True)
class Leaf:
    """A field of the record (`Exposure.fields`) under the response key `key`."""

    key: str
    field: str


@dataclass(frozen=True)
class TypeName:
    """`__typename` under `key`."""

    key: str


@dataclass(frozen=True)
class Related:
    """A to-one relation (`Exposure.relations`) under `key`: null when not visible."""

    key: str
    relation: str
    shape: Shape


@dataclass(frozen=True)
class Shape:
    exposure: Exposure
    items: tuple[Leaf | TypeName | Related, ...]
