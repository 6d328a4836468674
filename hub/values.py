"""`UNSET`: a field an update leaves alone, as distinct from one it sets to null."""

from __future__ import annotations

import enum
from typing import TypeVar, Union

T = TypeVar("T")


class Unset(enum.Enum):
    UNSET = "UNSET"


UNSET = Unset.UNSET

Maybe = Union[T, Unset]  # noqa: UP007 - a generic alias must stay subscriptable
