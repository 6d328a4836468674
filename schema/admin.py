"""The organisation's own API clients and users: types, inputs, payloads, Query/Mutation fields.

Who may use these (scope `partners:manage` or an ADMIN user) is decided by the services;
secrets and invitation tokens appear only in the payload of the mutation that made them.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from hub.orgs import client_admin, users
from hub.orgs.models import ApiClient as ApiClientRecord
from resolvers import admin as resolve
from resolvers.ids import NodeType, decode_id, encode_id
from schema.base import Connection, Info, Node, UserError, to_connection, user_errors
from schema.enums import GrantType, Role
from schema.users import User

_ORIGINS_DESCRIPTION = (
    "Web origins (scheme://host[:port]) whose pages may call the hub with this client's tokens: "
    "browsers are let through CORS from these only. https, or http on localhost/127.0.0.1."
)


@strawberry.type(description="An OAuth client of the caller's organisation. Never its secret.")
class ApiClient(Node):
    client_id: str = strawberry.field(description="The public OAuth `client_id`.")
    name: str
    scopes: list[str]
    grant_types: list[GrantType]
    redirect_uris: list[str]
    allowed_origins: list[str] = strawberry.field(description=_ORIGINS_DESCRIPTION)
    public: bool = strawberry.field(description="A public client has no secret; it uses PKCE.")
    disabled_at: datetime | None
    secret_rotated_at: datetime | None
    created_at: datetime

    @staticmethod
    def from_record(record: ApiClientRecord) -> ApiClient:
        return ApiClient(
            id=strawberry.ID(encode_id(NodeType.API_CLIENT, record.id)),
            client_id=record.client_id,
            name=record.name,
            scopes=list(record.allowed_scopes),
            grant_types=[GrantType(value) for value in record.grant_types],
            redirect_uris=list(record.redirect_uris),
            allowed_origins=list(record.allowed_origins),
            public=record.public,
            disabled_at=record.disabled_at,
            secret_rotated_at=record.secret_rotated_at,
            created_at=record.created_at,
        )


@strawberry.input
class RegisterClientInput:
    name: str
    scopes: list[str] = strawberry.field(description="Scopes the client may ask for.")
    grant_types: list[GrantType] = strawberry.field(
        default_factory=lambda: [GrantType.CLIENT_CREDENTIALS]
    )
    redirect_uris: list[str] = strawberry.field(
        default_factory=list,
        description="Required with AUTHORIZATION_CODE: https, or http on localhost/127.0.0.1.",
    )
    public: bool = strawberry.field(
        default=False, description="No secret (a browser or mobile app); AUTHORIZATION_CODE only."
    )
    allowed_origins: list[str] = strawberry.field(
        default_factory=list, description=_ORIGINS_DESCRIPTION
    )

    def to_command(self) -> client_admin.RegisterClient:
        return client_admin.RegisterClient(
            name=self.name,
            scopes=tuple(self.scopes),
            grant_types=tuple(grant.value for grant in self.grant_types),
            redirect_uris=tuple(self.redirect_uris),
            public=self.public,
            allowed_origins=tuple(self.allowed_origins),
        )


_CLIENT_ID_DESCRIPTION = "The client's global `id` (not its OAuth `clientId`)."


@strawberry.input
class RotateClientSecretInput:
    client_id: strawberry.ID = strawberry.field(description=_CLIENT_ID_DESCRIPTION)

    def to_command(self) -> client_admin.RotateClientSecret:
        return client_admin.RotateClientSecret(
            client_id=decode_id(self.client_id, NodeType.API_CLIENT, field="clientId")
        )


@strawberry.input
class SetClientOriginsInput:
    client_id: strawberry.ID = strawberry.field(description=_CLIENT_ID_DESCRIPTION)
    allowed_origins: list[str] = strawberry.field(
        description="Every origin the client keeps; an empty list lets no browser page in."
    )

    def to_command(self) -> client_admin.SetClientOrigins:
        return client_admin.SetClientOrigins(
            client_id=decode_id(self.client_id, NodeType.API_CLIENT, field="clientId"),
            allowed_origins=tuple(self.allowed_origins),
        )


@strawberry.input
class DisableClientInput:
    client_id: strawberry.ID = strawberry.field(description=_CLIENT_ID_DESCRIPTION)

    def to_command(self) -> client_admin.DisableClient:
        return client_admin.DisableClient(
            client_id=decode_id(self.client_id, NodeType.API_CLIENT, field="clientId")
        )


@strawberry.input
class InviteUserInput:
    email: str
    display_name: str
    role: Role

    def to_command(self) -> users.InviteUser:
        return users.InviteUser(email=self.email, display_name=self.display_name, role=self.role)


@strawberry.input
class DisableUserInput:
    user_id: strawberry.ID

    def to_command(self) -> users.DisableUser:
        return users.DisableUser(user_id=decode_id(self.user_id, NodeType.USER, field="userId"))


@strawberry.type
class ClientSecretPayload:
    client: ApiClient | None
    client_secret: str | None = strawberry.field(
        description="Shown this once and never again; null for a public client."
    )
    user_errors: list[UserError]


@strawberry.type
class DisableClientPayload:
    client: ApiClient | None
    user_errors: list[UserError]


@strawberry.type(description="The client as changed, or why it was not.")
class ClientPayload:
    client: ApiClient | None
    user_errors: list[UserError]


@strawberry.type
class InviteUserPayload:
    user: User | None
    invitation_token: str | None = strawberry.field(
        description="Shown this once; send it to the person invited. Valid for 7 days."
    )
    invitation_url: str | None = strawberry.field(
        description="The link to send instead of the bare token: it opens the page where the "
        "person chooses a password. Carries the token, so it is shown this once too."
    )
    user_errors: list[UserError]


@strawberry.type
class DisableUserPayload:
    user: User | None
    user_errors: list[UserError]


def _client_secret_payload(
    outcome_value: client_admin.ClientWithSecret | None, errors: list[UserError]
) -> ClientSecretPayload:
    if outcome_value is None:
        return ClientSecretPayload(client=None, client_secret=None, user_errors=errors)
    return ClientSecretPayload(
        client=ApiClient.from_record(outcome_value.client),
        client_secret=outcome_value.client_secret,
        user_errors=errors,
    )


@strawberry.type
class AdminQuery:
    @strawberry.field(description="The organisation's API clients; for admins.")
    async def clients(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[ApiClient]:
        page = await resolve.list_clients(info.context, first, after)
        return to_connection(page, ApiClient.from_record)

    @strawberry.field(description="The organisation's users; for admins.")
    async def users(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[User]:
        page = await resolve.list_users(info.context, first, after)
        return to_connection(page, User.from_record)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Register an API client; its secret is shown only here.")
    async def register_client(self, info: Info, input: RegisterClientInput) -> ClientSecretPayload:
        outcome = await resolve.register_client(info.context, input.to_command)
        return _client_secret_payload(outcome.value, user_errors(outcome.errors))

    @strawberry.mutation(description="A new secret; the old one stops working at once.")
    async def rotate_client_secret(
        self, info: Info, input: RotateClientSecretInput
    ) -> ClientSecretPayload:
        outcome = await resolve.rotate_client_secret(info.context, input.to_command)
        return _client_secret_payload(outcome.value, user_errors(outcome.errors))

    @strawberry.mutation(description="No new tokens; tokens it holds fail on their next use.")
    async def disable_client(self, info: Info, input: DisableClientInput) -> DisableClientPayload:
        outcome = await resolve.disable_client(info.context, input.to_command)
        client = ApiClient.from_record(outcome.value) if outcome.value else None
        return DisableClientPayload(client=client, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(
        description="Replace the web origins whose pages may call the hub with the client's "
        "tokens (CORS); browsers see the change within a few seconds."
    )
    async def set_client_origins(self, info: Info, input: SetClientOriginsInput) -> ClientPayload:
        outcome = await resolve.set_client_origins(info.context, input.to_command)
        client = ApiClient.from_record(outcome.value) if outcome.value else None
        return ClientPayload(client=client, user_errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Invite a person; the invitation token is shown only here.")
    async def invite_user(self, info: Info, input: InviteUserInput) -> InviteUserPayload:
        outcome = await resolve.invite_user(info.context, input.to_command)
        invited = outcome.value
        if invited is None:
            return InviteUserPayload(
                user=None,
                invitation_token=None,
                invitation_url=None,
                user_errors=user_errors(outcome.errors),
            )
        return InviteUserPayload(
            user=User.from_record(invited.user),
            invitation_token=invited.invitation_token,
            invitation_url=users.invitation_url(
                info.context.issuer, invited.user.org_id, invited.invitation_token
            ),
            user_errors=user_errors(outcome.errors),
        )

    @strawberry.mutation
    async def disable_user(self, info: Info, input: DisableUserInput) -> DisableUserPayload:
        outcome = await resolve.disable_user(info.context, input.to_command)
        user = User.from_record(outcome.value) if outcome.value else None
        return DisableUserPayload(user=user, user_errors=user_errors(outcome.errors))
