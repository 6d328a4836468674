"""Statements as the driver runs them: SQL with `$n` parameters, and what fills each.

Building a statement with SQLAlchemy and compiling it costs far more than running it (DESIGN 8).
A statement of a fixed shape is compiled once into the driver's SQL; each request then fills
its parameters, by name from the request's own values, or with the value the statement was
built with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class Slot:
    """One positional parameter: a per-request value by name, or the statement's own value."""

    name: str
    processor: Callable[[Any], Any] | None
    constant: Any
    per_request: bool = False


@dataclass(frozen=True)
class DriverStatement:
    sql: str
    slots: tuple[Slot, ...]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments, each request's own taken from `values` by name."""
        arguments = []
        for slot in self.slots:
            if slot.per_request:
                value = values[slot.name]
                arguments.append(slot.processor(value) if slot.processor else value)
            else:
                arguments.append(slot.constant)
        return arguments

    def same_as(self, other: DriverStatement) -> bool:
        """The same SQL with the same values of its own (processors are made anew)."""
        return self.sql == other.sql and [(s.name, s.constant) for s in self.slots] == [
            (s.name, s.constant) for s in other.slots
        ]


def driver_statement(
    statement: Select[Any], dialect: Dialect, per_request: Callable[[BindParameter[Any]], bool]
) -> DriverStatement:
    """`statement` compiled for `dialect`; the parameters `per_request` picks are filled per
    request, by name, every other with the value the statement carries."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    values = compiled.construct_params(_check=False)
    slots = []
    for name in compiled.positiontup or ():
        processor = processors.get(name)
        if processor is not None and not callable(processor):
            raise TypeError(f"a tuple parameter ({name}) is not prepared here")
        bind = compiled.binds.get(name)  # none for an expanded IN list's element: a constant
        if bind is not None and per_request(bind):
            slots.append(Slot(name, processor, None, per_request=True))
        else:
            value = values[name]
            slots.append(Slot(name, None, processor(value) if processor else value))
    return DriverStatement(compiled.string, tuple(slots))
