"""The GraphQL schema: per-domain Query/Mutation mixins merged, plus limits and error typing."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.admin import AdminMutation, AdminQuery, ApiClient
from schema.audit import BIG_INT, AuditQuery, BigInt
from schema.cases import Case, CaseMutation, CaseQuery
from schema.compiled import CompiledExecution, CompiledReads
from schema.customers import Contact, Customer, CustomerMutation, CustomerQuery
from schema.deals import DealMutation, DealQuery, DealRegistration
from schema.disclosed_fields import DisclosedFields
from schema.disclosures import DisclosureQuery
from schema.document_cache import CachedParsing, CachedValidation
from schema.errors import TypedErrors
from schema.explanations import ExplanationQuery
from schema.grants import Grant, GrantMutation, GrantQuery
from schema.opportunities import Opportunity, OpportunityMutation, OpportunityQuery
from schema.partnerships import Partnership, PartnershipMutation, PartnershipQuery
from schema.privacy import PrivacyMutation, PrivacyQuery
from schema.retention import RetentionMutation, RetentionQuery
from schema.users import User
from schema.viewer import ViewerQuery

Query = merge_types(
    "Query",
    (
        ViewerQuery,
        CustomerQuery,
        OpportunityQuery,
        CaseQuery,
        PartnershipQuery,
        GrantQuery,
        DealQuery,
        ExplanationQuery,
        DisclosureQuery,
        AdminQuery,
        AuditQuery,
        PrivacyQuery,
        RetentionQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CustomerMutation,
        OpportunityMutation,
        CaseMutation,
        PartnershipMutation,
        GrantMutation,
        DealMutation,
        AdminMutation,
        PrivacyMutation,
        RetentionMutation,
    ),
)


def schema_config() -> StrawberryConfig:
    """How the hub's types become GraphQL: camelCase names, and the scalars of its own."""
    return StrawberryConfig(auto_camel_case=True, scalar_map={BigInt: BIG_INT})


_PLANNERS: dict[int, CompiledReads] = {}


def planner_of(schema: strawberry.Schema) -> CompiledReads:
    """The one planner of each schema (a process builds one, a test suite a few)."""
    planner = _PLANNERS.get(id(schema))
    if planner is None or planner.schema is not schema:
        planner = _PLANNERS[id(schema)] = CompiledReads(schema)
    return planner


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 15,
    max_tokens: int = 2000,
    introspection: bool = True,
    compiled_reads: bool = True,
) -> strawberry.Schema:
    """The hub's schema with its protections; extensions are factories, one per request.

    The depth and alias rules are made once here, not by strawberry's limiters (which make new
    rule classes for every request): a cached validation is keyed by its rule classes.
    """
    limits = (max_depth_rule(max_depth, None, None), max_aliases_rule(max_aliases))
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        TypedErrors,
        DisclosedFields,
        CachedParsing,
        CachedValidation,
        partial(AddValidationRules, list(limits)),
        partial(MaxTokensLimiter, max_token_count=max_tokens),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    if compiled_reads:
        extensions.append(partial(CompiledExecution, reads=planner_of))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[
            Customer,
            Contact,
            Opportunity,
            Case,
            User,
            ApiClient,
            Partnership,
            Grant,
            DealRegistration,
        ],
        extensions=extensions,
        config=schema_config(),
    )
