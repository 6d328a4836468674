"""The database's partner wall lets a partner change exactly what the exposure maps declare.

The `partner_columns` trigger (migration 20261125_partner_visibility) refuses a partner's UPDATE
that changes any column but those it was created with, its arguments; `hub.access.changes`
refuses the same before any write, reading `Exposed.partner_writable`. A migration cannot read
the maps, so this compares the trigger as the live database holds it with what they declare.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.exposure_maps import exposure_maps, partner_writable_columns

# A partner's change moves the record's version and update time too: the trigger lets them
# through, though no partner sets them.
EVERY_WRITE_MOVES = frozenset({"version", "updated_at"})

_TRIGGERS = text(
    """
    SELECT c.relname, t.tgargs, t.tgfoid::regproc::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE t.tgname = 'partner_columns' AND NOT t.tgisinternal
    """
)


async def _trigger_columns(engine: AsyncEngine) -> dict[str, frozenset[str]]:
    """Per table, the columns its `partner_columns` trigger lets a partner change."""
    async with engine.connect() as connection:
        rows = (await connection.execute(_TRIGGERS)).all()
    assert {function for _, _, function in rows} == {"hub_partner_columns"}
    # `tgargs` holds the trigger's arguments, each ended by a zero byte.
    return {
        table: frozenset(argument.decode() for argument in bytes(arguments).split(b"\0")[:-1])
        for table, arguments, _ in rows
    }


async def test_the_trigger_lets_a_partner_change_what_the_exposure_maps_declare(
    owner_engine: AsyncEngine,
) -> None:
    declared = {
        exposure.model.__tablename__: partner_writable_columns(model) | EVERY_WRITE_MOVES
        for model, exposure in exposure_maps().items()
        if partner_writable_columns(model)
    }
    assert declared, "no map declares a partner-writable column: nothing is compared"
    assert await _trigger_columns(owner_engine) == declared
