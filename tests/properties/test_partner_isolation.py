"""Partner isolation as a property: whatever a partner sends, nothing outside its grants comes back.

hypothesis-graphql generates valid operations from the hub's own schema: queries over every root
field and the mutations a partner could try against records, grants and partnerships. Each is
sent over HTTP with a real token of one of four partners or a stranger (full scopes or read
scopes). Arguments of type `ID` are drawn from the world's own ids (records shared and not shared,
comments, users, organisations, partnerships, grants, raw uuids) besides random ones, so `node`,
`nodes`, the `owner` filters and every mutation's target do hit real rows. Every response must be
200 or a clean 4xx with no INTERNAL error, and must carry none of the strings `world.forbidden`
names for that viewer.

Two defects this test found are fixed and pinned by tests in tests/api/test_bad_input.py: NUL
characters in text (now a 400 before anything runs) and a cancelled sibling field breaking the
request's connection (a 500). NUL is generated here too, and a broken connection fails the test.
The operations go to a hub of their own, so a connection a request left broken would stay there.

Left out of generation, so the world stays what `world.expectation` describes: `endPartnership`
and `invitePartner` (a partner may legitimately leave or start its own partnerships) and the
admin mutations on the caller's own clients and users (`disableClient` would end its own tokens).
Every other mutation is generated and must fail for a partner or touch only its own records; the
owners' rows are compared before and after, and the partners' views are checked against the
expectation before and after.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from functools import partial
from typing import Any

import httpx
import pytest
from graphql import FieldNode, OperationDefinitionNode, parse
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, InvalidRequestError

from hub.app import create_app
from hub.grants.masking import PersonalField
from hub.grants.models import FieldVisibility
from hub.pagination import encode_cursor
from hub.settings import Settings
from resolvers.ids import NodeType, encode_id
from schema import build_schema
from tests import tokens
from tests.factories import Factory
from tests.properties.world import (
    OWNERS,
    VIEWERS,
    Sessions,
    World,
    build_world,
    expectation,
    forbidden,
)

OPERATIONS = 1000

QUERY_FIELDS = (
    "viewer",
    "node",
    "nodes",
    "customers",
    "opportunities",
    "cases",
    "partnerships",
    "grants",
    "clients",
    "users",
    "auditEvents",
    "myAccessTrail",
    "disclosureReport",
    "exportPersonalData",
    "privacyNotices",
)
READ_WEIGHTS = {"node": 3, "nodes": 3, "customers": 3, "opportunities": 3, "cases": 3}
MUTATION_FIELDS = (
    "createCustomer",
    "updateCustomer",
    "addContact",
    "setConsent",
    "createOpportunity",
    "updateOpportunity",
    "createCase",
    "transitionCase",
    "addCaseComment",
    "createGrant",
    "updateGrant",
    "revokeGrant",
    "acceptPartnership",
    "suspendPartnership",
    "resumePartnership",
    "erasePersonalData",
    "acknowledgePrivacyNotice",
)

# Strings worth trying where a `String` goes: filters that match the world (every name carries
# a `tq` tag), attribute values of its segments, and values that pass the hub's input checks.
HINTS = (
    "tq",
    "Customer",
    "Deal",
    "Case",
    "ada",
    "EMEA",
    "AMER",
    "APAC",
    "Retail",
    "EUR",
    "DE",
    "example.com",
    "ada@analytical.example",
    "region",
    "stage",
    "",
)

# Any character, NUL included: the hub refuses it with a 400 before anything runs.
CHARACTERS = st.characters(codec="utf-8")

# --- generation ----------------------------------------------------------------------------


def scalars(world: World, viewer: str) -> dict[str, st.SearchStrategy[Any]]:
    """Values for the scalars, drawn so that arguments reach real rows.

    `ID`: what others share with the viewer, its own records, every record of the world
    (shared or not), organisations, users, partnerships, grants, raw uuids, random ids of every
    type, and junk. `String`: hints that match the world (every name carries a `tq` tag),
    besides arbitrary text. The stand-ins draw from the viewer's reach first, then from the
    whole world (a cursor names a record too), then anything.
    """
    records = sorted(record.global_id for record in world.records.values())
    own = sorted(record.global_id for record in world.records.values() if record.owner == viewer)
    shared = sorted(
        world.records[key].global_id
        for key in expectation(world, viewer).visible
        if world.records[key].owner != viewer
    )
    other_ids = sorted(set(world.global_ids()) - set(records))
    mine_or_shared = [world.records[key] for key in expectation(world, viewer).visible]
    texts = st.one_of(st.sampled_from(HINTS), st.text(CHARACTERS, max_size=24))
    integers = st.integers(min_value=-(2**31), max_value=2**31 - 1)
    ids = st.one_of(
        st.sampled_from(shared or own),
        st.sampled_from(own),
        st.sampled_from(records),
        st.sampled_from(world.organisation_ids()),
        st.sampled_from(other_ids),
        st.sampled_from(world.raw_ids()),
        st.builds(encode_id, st.sampled_from(list(NodeType)), st.uuids()),
        st.text(CHARACTERS, max_size=16),
    )
    customers = st.sampled_from(
        sorted(record.global_id for record in world.of_type(NodeType.CUSTOMER))
    )
    users = st.sampled_from(
        sorted(encode_id(NodeType.USER, org.admin.id) for org in world.orgs.values())
    )
    return {
        "ID": ids.map(nodes.String),
        "String": texts.map(nodes.String),
        "Int": st.one_of(st.integers(0, 5), integers).map(nodes.Int),
        # Stand-ins for arguments of the lists (see `generation_sdl`): mostly values the hub
        # takes, from the viewer's reach first.
        "PageSize": st.one_of(st.integers(1, 100), integers).map(nodes.Int),
        "Cursor": st.one_of(
            st.sampled_from(sorted(encode_cursor(record.id) for record in mine_or_shared)),
            st.sampled_from(sorted(encode_cursor(record.id) for record in world.records.values())),
            texts,
        ).map(nodes.String),
        "OrganisationId": st.one_of(st.sampled_from(world.organisation_ids()), ids).map(
            nodes.String
        ),
        "CustomerId": st.one_of(
            st.sampled_from(
                sorted(r.global_id for r in mine_or_shared if r.node_type is NodeType.CUSTOMER)
            ),
            customers,
            ids,
        ).map(nodes.String),
        "UserId": st.one_of(
            st.just(encode_id(NodeType.USER, world.orgs[viewer].admin.id)), users, ids
        ).map(nodes.String),
        "Text": st.sampled_from(HINTS).map(nodes.String),
        "NodeId": st.one_of(st.sampled_from(shared or own), ids).map(nodes.String),
        "DateTime": st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
            st.sampled_from(["2999-01-01T00:00:00", "next tuesday"]),
        ).map(nodes.String),
        "Date": st.one_of(st.dates().map(lambda day: day.isoformat()), st.just("31/12/2026")).map(
            nodes.String
        ),
        "Decimal": st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
            st.sampled_from(["NaN", "1e400", "-1", "abc"]),
        ).map(nodes.String),
    }


# The arguments that decide whether a list answers at all, each given a scalar of its own in the
# schema the operations are generated from, so that their values can be drawn apart: a page
# size, a cursor, an owning organisation, a customer or a user to filter by, a text to search
# for, the ids `node` and `nodes` look up. The documents are the same text either way and are
# validated against the hub's real schema when they are sent.
STAND_INS = {
    "first: Int! = 20": "first: PageSize! = 20",
    "after: String = null": "after: Cursor = null",
    "owner: ID = null": "owner: OrganisationId = null",
    "customerId: ID = null": "customerId: CustomerId = null",
    "ownerId: ID = null": "ownerId: UserId = null",
    "assigneeId: ID = null": "assigneeId: UserId = null",
    "search: String = null": "search: Text = null",
    "region: String = null": "region: Text = null",
    "node(id: ID!)": "node(id: NodeId!)",
    "nodes(ids: [ID!]!)": "nodes(ids: [NodeId!]!)",
}

STAND_IN_SCALARS = (
    "PageSize",
    "Cursor",
    "OrganisationId",
    "CustomerId",
    "UserId",
    "Text",
    "NodeId",
)


def generation_sdl() -> str:
    sdl = build_schema().as_str()
    for argument, stand_in in STAND_INS.items():
        assert argument in sdl, f"the schema changed: {argument!r} is gone"
        sdl = sdl.replace(argument, stand_in)
    return sdl + "".join(f"\nscalar {name}" for name in STAND_IN_SCALARS)


@dataclass(frozen=True)
class Operation:
    viewer: str
    scopes: str  # "all" or "read"
    document: str


def _read_or_write(
    reads: st.SearchStrategy[str], writes: st.SearchStrategy[str], choice: str
) -> st.SearchStrategy[str]:
    return writes if choice == "write" else reads


def operations(world: World) -> st.SearchStrategy[Operation]:
    """One root field per operation, two reads for every write, from a viewer drawn first.

    Root connection fields are non-null, so one bad argument in a many-field query nulls the
    whole `data` and hides every other field's answer. Reads of
    records come three times as often as the other reads, and the partners that receive shares
    twice as often as the one whose partnership is suspended and the stranger, so that many
    answers carry what others share: where a leak would hide. (Steering with `hypothesis.target`
    instead was tried: it spent most of the budget, and time, on one viewer's `nodes`.)
    """
    sdl = generation_sdl()
    per_viewer: dict[str, st.SearchStrategy[str]] = {}
    for viewer in VIEWERS:
        custom = scalars(world, viewer)
        reads = {
            name: queries(sdl, fields=[name], custom_scalars=custom, allow_x00=True)
            for name in QUERY_FIELDS
        }
        weighted = [name for name in QUERY_FIELDS for _ in range(READ_WEIGHTS.get(name, 1))]
        writes = st.one_of(
            *(
                mutations(sdl, fields=[name], custom_scalars=custom, allow_x00=True)
                for name in MUTATION_FIELDS
            )
        )
        read = st.sampled_from(weighted).flatmap(reads.__getitem__)
        per_viewer[viewer] = st.sampled_from(["read", "read", "write"]).flatmap(
            partial(_read_or_write, read, writes)
        )
    viewers = [viewer for viewer in VIEWERS for _ in range(1 if viewer in ("D", "S") else 2)]
    return st.sampled_from(viewers).flatmap(
        lambda viewer: st.builds(
            Operation, st.just(viewer), st.sampled_from(["all", "read"]), per_viewer[viewer]
        )
    )


# --- checking ------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    documents: set[Operation] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    viewers: Counter[str] = field(default_factory=Counter)
    mutations: int = 0
    hits: int = 0  # responses that carried records other organisations share with the viewer
    with_data: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    field_hits: Counter[str] = field(default_factory=Counter)
    connection_failures: Counter[str] = field(default_factory=Counter)  # see `send`


class Leak(AssertionError):
    pass


@dataclass(frozen=True)
class Watch:
    """One viewer's forbidden strings as one pattern, and what others share with it as another."""

    forbidden: Mapping[str, str]
    pattern: re.Pattern[str]
    shared: re.Pattern[str]

    @staticmethod
    def of(world: World, viewer: str) -> Watch:
        found = forbidden(world, viewer)
        expected = expectation(world, viewer)
        received = [
            value
            for key in expected.visible
            if world.records[key].owner != viewer
            for value in (
                world.records[key].global_id,
                encode_cursor(world.records[key].id),
                *world.records[key].texts,
            )
            if value not in found
        ]
        return Watch(found, _any_of(found), _any_of(received))

    def leaks(self, text: str) -> set[str]:
        return set(self.pattern.findall(text))


def _any_of(values: Iterable[str]) -> re.Pattern[str]:
    alternatives = sorted(values, key=len, reverse=True) or ["(?!)"]
    return re.compile("|".join(re.escape(value) for value in alternatives))


def count(operation: Operation, status: int, tally: Tally) -> None:
    tally.sent += 1
    tally.documents.add(operation)
    tally.statuses[status] += 1
    tally.viewers[operation.viewer] += 1
    tally.mutations += operation.document.startswith("mutation")


def check(operation: Operation, response: httpx.Response, watch: Watch, tally: Tally) -> None:
    count(operation, response.status_code, tally)
    note(f"{operation.viewer} ({operation.scopes} scopes) -> {response.status_code}")
    assert response.status_code < 500, response.text
    body = response.json()
    errors = body.get("errors") or []
    codes = [error.get("extensions", {}).get("code", "?") for error in errors]
    tally.codes.update(codes)
    assert "INTERNAL" not in codes, (operation.document, body)
    data = json.dumps(body.get("data"), ensure_ascii=False)
    tally.with_data += body.get("data") is not None
    field_name = root_field(operation.document)
    tally.fields[field_name] += 1
    received = len(set(watch.shared.findall(data)))
    if received:
        tally.hits += 1
        tally.field_hits[field_name] += 1
    # An error message may echo what the caller itself sent; data never may.
    leaked = watch.leaks(data) | (
        watch.leaks(json.dumps(errors, ensure_ascii=False)) - _sent(operation)
    )
    if leaked:
        described = sorted(f"{watch.forbidden[value]}: {value}" for value in leaked)
        raise Leak(
            f"{operation.viewer} ({operation.scopes} scopes) received {described}\n"
            f"operation:\n{operation.document}\nresponse:\n{response.text[:4000]}"
        )


def root_field(document: str) -> str:
    """The one root field of a generated operation."""
    [definition] = parse(document).definitions
    assert isinstance(definition, OperationDefinitionNode)
    [selection] = definition.selection_set.selections
    assert isinstance(selection, FieldNode)
    return selection.name.value


async def send(
    client: httpx.AsyncClient, token: str, operation: Operation, tally: Tally
) -> httpx.Response | None:
    """The response, or None when the hub broke on its connection (counted; the test fails).

    The fixed defect `test_a_field_refused_beside_one_still_loading_is_an_error_not_a_500` pins
    down left a connection closed, busy or mid-transaction, so the app raised at commit or at the
    start of a later request drawing that connection from the pool.
    """
    try:
        return await tokens.graphql(client, token, operation.document)
    except (InterfaceError, InvalidRequestError) as error:
        count(operation, 500, tally)
        tally.connection_failures[
            str(getattr(error, "orig", None) or error).splitlines()[0][:80]
        ] += 1
        return None


def _sent(operation: Operation) -> set[str]:
    return {token for token in re.findall(r'"((?:[^"\\]|\\.)*)"', operation.document)}


# --- the world as the hub shows it ---------------------------------------------------------

PAGE = """query ($after: String) {{ {field}(first: 100, after: $after) {{
    edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
LIST_FIELDS = {
    "customers": "id name contacts { id fullName email phone jobTitle }",
    "opportunities": "id name internalNotes owner { id } customer { id }",
    "cases": "id subject assignee { id } customer { id } comments { id body visibility }",
}


async def everything_listed(
    client: httpx.AsyncClient, token: str
) -> dict[str, list[dict[str, Any]]]:
    """Every node of the three lists, all pages."""
    listed: dict[str, list[dict[str, Any]]] = {}
    for name, fields in LIST_FIELDS.items():
        listed[name], after = [], None
        while True:
            query = PAGE.format(field=name, fields=fields)
            response = await tokens.graphql(client, token, query, {"after": after})
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            page = body["data"][name]
            listed[name] += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    return listed


async def check_view(client: httpx.AsyncClient, world: World, viewer: str) -> int:
    """The viewer's lists hold exactly what the expectation says, fields per policy.

    Records the viewer made during the run are its own and may be listed besides. Returns how
    many records of other organisations it was shown (the positive control).
    """
    expected = expectation(world, viewer)
    listed = await everything_listed(client, world.tokens[viewer])
    by_id = {record.global_id: record for record in world.records.values()}
    seen: set[str] = set()
    for nodes_listed in listed.values():
        for node in nodes_listed:
            nested = [
                node.get("customer") or {},
                *node.get("contacts", []),
                *node.get("comments", []),
            ]
            for item in (node, *nested):
                record = by_id.get(item.get("id", ""))
                if record is not None:
                    seen.add(record.key)
    kinds = {
        NodeType.CUSTOMER,
        NodeType.CONTACT,
        NodeType.OPPORTUNITY,
        NodeType.CASE,
        NodeType.CASE_COMMENT,
    }
    wanted = {key for key in expected.visible if world.records[key].node_type in kinds}
    # A comment or contact shows only under its case or customer; both must be visible.
    assert seen == wanted, (viewer, sorted(seen - wanted), sorted(wanted - seen))
    columns = {
        PersonalField.FULL_NAME: "fullName",
        PersonalField.EMAIL: "email",
        PersonalField.PHONE: "phone",
        PersonalField.JOB_TITLE: "jobTitle",
    }
    for customer in listed["customers"]:
        for contact in customer["contacts"]:
            record = by_id.get(contact["id"])
            if record is None or record.owner == viewer:
                continue
            for personal, column in columns.items():
                raw, shown = record.personal[personal], contact[column]
                policy = expected.policy[record.key][personal]
                if policy is FieldVisibility.VISIBLE:
                    assert shown == raw, (viewer, record.key, column, shown)
                elif policy is FieldVisibility.HIDDEN:
                    assert shown is None, (viewer, record.key, column, shown)
                else:
                    assert shown not in (None, raw), (viewer, record.key, column, shown)
    return sum(1 for key in seen if world.records[key].owner != viewer)


async def owners_rows(sessions: Sessions, world: World) -> list[tuple[str, ...]]:
    """The owners' rows and every partnership and grant of the world, as comparable tuples.

    Leaves out what a partner may legitimately change under CONTRIBUTE (an opportunity's stage,
    next step, expected close date and version; SHARED comments it writes): `contributions`
    checks those.
    """
    owners = [world.orgs[key].id for key in OWNERS]
    everyone = [org.id for org in world.orgs.values()]
    viewers = [world.orgs[key].id for key in VIEWERS]
    statement = text(
        """
        SELECT 'customer', id::text, version::text || array_to_string(consent_purposes, ',')
            FROM customers WHERE org_id = ANY(:owners)
        UNION ALL SELECT 'contact', id::text, coalesce(email, '') FROM contacts
            WHERE org_id = ANY(:owners)
        UNION ALL SELECT 'opportunity', id::text, md5(concat_ws('|', customer_id, name, amount,
                currency, probability, owner_user_id, assigned_partnership_id, source,
                internal_notes))
            FROM opportunities WHERE org_id = ANY(:owners)
        UNION ALL SELECT 'case', id::text, version::text || status FROM cases
            WHERE org_id = ANY(:owners)
        UNION ALL SELECT 'comment', id::text, visibility FROM case_comments
            WHERE org_id = ANY(:owners) AND author_org_id <> ALL(:viewers)
        UNION ALL SELECT 'partnership', id::text, status FROM partnerships
            WHERE org_id = ANY(:everyone) OR partner_org_id = ANY(:everyone)
        UNION ALL SELECT 'grant', id::text,
                version::text || coalesce(revoked_at::text, '') || coalesce(expires_at::text, '')
            FROM grants WHERE org_id = ANY(:everyone) OR partner_org_id = ANY(:everyone)
        ORDER BY 1, 2
        """
    )
    async with sessions() as session:
        rows = await session.execute(
            statement, {"owners": owners, "everyone": everyone, "viewers": viewers}
        )
        return [tuple(row) for row in rows]


async def contributions(sessions: Sessions, world: World) -> set[tuple[str, str, str]]:
    """What partners changed on the owners' side: (viewer, record key, what) per change.

    A comment a partner wrote on an owner's case, or an owner's opportunity whose partner-touched
    columns differ from the world's.
    """
    key_of = {record.id: key for key, record in world.records.items()}
    viewer_of = {world.orgs[key].id: key for key in VIEWERS}
    owners = [world.orgs[key].id for key in OWNERS]
    async with sessions() as session:
        comments = await session.execute(
            text(
                "SELECT author_org_id, case_id, visibility FROM case_comments"
                " WHERE org_id = ANY(:owners) AND author_org_id = ANY(:viewers)"
            ),
            {"owners": owners, "viewers": list(viewer_of)},
        )
        changed = await session.execute(
            text(
                "SELECT o.id, p.partner_org_id FROM opportunities o"
                " LEFT JOIN partnerships p ON p.id = o.assigned_partnership_id"
                " WHERE o.org_id = ANY(:owners) AND o.version > 1"
            ),
            {"owners": owners},
        )
        return {
            (viewer_of[author], key_of[case], f"comment {visibility}")
            for author, case, visibility in comments
        } | {
            (viewer_of.get(partner, "owner"), key_of[opportunity], "opportunity")
            for opportunity, partner in changed
        }


# --- the property --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(client: httpx.AsyncClient, owner_sessions: Sessions) -> AsyncIterator[World]:
    yield await build_world(client, Factory(owner_sessions), owner_sessions)


@pytest.fixture(scope="module")
async def fuzzed(settings: Settings, app_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A hub of its own for the generated operations (same database, same signing keys).

    Should a request ever break its connection again, the broken connection stays in this hub's
    pool, not in the one the checks and the rest of the suite use.
    """
    application = create_app(settings, app_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


async def test_no_partner_receives_what_its_grants_do_not_share(
    client: httpx.AsyncClient, fuzzed: httpx.AsyncClient, owner_sessions: Sessions, world: World
) -> None:
    shown = {viewer: await check_view(client, world, viewer) for viewer in VIEWERS}
    # Positive control: those with live grants are shown records of others; the others none.
    assert all(shown[viewer] > 0 for viewer in ("A", "B", "G")), shown
    assert shown["D"] == shown["S"] == 0, shown
    before = await owners_rows(owner_sessions, world)

    loop = asyncio.get_running_loop()
    watches = {viewer: Watch.of(world, viewer) for viewer in VIEWERS}
    token = {"all": world.tokens, "read": world.read_tokens}
    tally = Tally()

    @settings(
        max_examples=OPERATIONS,
        deadline=None,
        derandomize=False,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(operation=operations(world))
    def partners_see_only_what_is_shared(operation: Operation) -> None:
        note(operation.document)
        sent = send(fuzzed, token[operation.scopes][operation.viewer], operation, tally)
        response = asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=60)
        if response is not None:
            check(operation, response, watches[operation.viewer], tally)

    started = time.perf_counter()
    # Hypothesis drives the examples from a worker thread; each request runs on this loop,
    # where the app and its connection pool live.
    await asyncio.to_thread(partners_see_only_what_is_shared)
    elapsed = time.perf_counter() - started

    print(
        f"\n{tally.sent} operations ({len(tally.documents)} distinct, {tally.mutations} "
        f"mutations) in {elapsed:.1f} s; {tally.with_data} answered with data; "
        f"statuses {dict(tally.statuses)}; "
        f"viewers {dict(tally.viewers)}; {tally.hits} responses carried what others share; "
        f"error codes {dict(tally.codes)}; shown before {shown}; "
        f"connection failures (500) {dict(tally.connection_failures)}; "
        f"fields {dict(tally.fields)}; hits {dict(tally.field_hits)}"
    )
    assert tally.sent >= OPERATIONS, tally.sent
    assert len(tally.documents) >= OPERATIONS * 0.8, len(tally.documents)
    assert set(tally.viewers) == set(VIEWERS), tally.viewers
    # The ids drawn reach real rows: responses did carry what others share (18 to about 40 of
    # 1,000 on the runs measured; the draw is random), so the property was not checked on empty
    # answers only. The bound leaves room for an unlucky draw without letting "none" pass.
    assert tally.hits >= OPERATIONS // 200, tally.hits
    assert not tally.connection_failures, tally.connection_failures

    # Nothing a partner sent changed the owners' side of the world beyond what CONTRIBUTE
    # allows (A comments on the cases it raised, B moves its assigned opportunity), and every
    # view still holds.
    assert await owners_rows(owner_sessions, world) == before
    allowed = {("A", "k1", "comment SHARED"), ("B", "o3", "opportunity")}
    assert await contributions(owner_sessions, world) <= allowed
    after = {viewer: await check_view(client, world, viewer) for viewer in VIEWERS}
    assert after == shown, (after, shown)
