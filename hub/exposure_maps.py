"""Every record type's exposure map, found by its model, and the columns each declaration marks.

The access layer (redaction, disclosures, what a partner may change) and the ledger (personal
data, and so erasure) look a record's declaration up here by the model they hold, so each fact
about a field is stated once, in `hub/<domain>/exposure.py` (ADR 0018). A model without a map
marks no column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

from hub.db import TenantModel
from hub.exposure import Exposed, Exposure

__all__ = [
    "exposure_maps",
    "exposure_of",
    "never_crossing_columns",
    "partner_writable_columns",
    "personal_columns",
]


@cache
def exposure_maps() -> Mapping[type[TenantModel], Exposure]:
    """The maps by model, gathered on first use rather than at import: each map names its
    read scope from `hub.access`, whose package reads the maps, so importing them with this
    module would be circular."""
    from hub.cases.exposure import CASE
    from hub.customers.exposure import CUSTOMER
    from hub.opportunities.exposure import OPPORTUNITY

    return {exposure.model: exposure for exposure in (OPPORTUNITY, CUSTOMER, CASE)}


def exposure_of(model: type[TenantModel]) -> Exposure | None:
    return exposure_maps().get(model)


@cache
def never_crossing_columns(model: type[TenantModel]) -> frozenset[str]:
    """Columns null on a record another organisation shares (`Exposed.crosses=False`)."""
    return _marked(model, lambda exposed: not exposed.crosses)


@cache
def personal_columns(model: type[TenantModel]) -> frozenset[str]:
    """Columns that may name a person (`Exposed.personal`)."""
    return _marked(model, lambda exposed: exposed.personal)


@cache
def partner_writable_columns(model: type[TenantModel]) -> frozenset[str]:
    """Columns a partner may change under CONTRIBUTE (`Exposed.partner_writable`)."""
    return _marked(model, lambda exposed: exposed.partner_writable)


def _marked(model: type[TenantModel], marked: Callable[[Exposed], bool]) -> frozenset[str]:
    exposure = exposure_of(model)
    if exposure is None:
        return frozenset()
    return frozenset(exposed.column for exposed in exposure.fields.values() if marked(exposed))
