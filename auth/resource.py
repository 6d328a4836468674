"""Resource server: a bearer token becomes an Actor, re-checked against the database each time.

The JWT proves who the caller was when the token was issued; one statement in the request's
own transaction then checks that its client, user, family, `jti` and key are all still live, so
revoking or disabling any of them bites on the very next request. A user's scopes are also
cut to what the user's role permits today.

A token judged live is remembered with that judgement (`hub.access.entry.Admission`), so its
next compiled read can run the same checks inside its one statement (ADR 0020).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from auth.external import ExternalIssuer
from auth.tokens import AccessClaims, InvalidToken, KeyRing
from hub.access import ROLE_SCOPES, Actor
from hub.access.entry import Admission, admission, enter_request
from hub.access.scopes import parse_scopes
from hub.oauth.service import judge_standing, standing_checks, standing_parameters
from hub.orgs.identity import find_member


class MissingToken(Exception):
    """The request carried no bearer token at all."""


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header (RFC 6750 §2.1)."""
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("malformed Authorization header")
    return token.strip()


# Tokens live 15 minutes at most; a busy process meets a few thousand in that time.
_ADMISSIONS_KEPT = 10_000


class ResourceServer:
    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        audience: str,
        external: ExternalIssuer | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.external = external
        self._admissions: OrderedDict[tuple[object, ...], Admission] = OrderedDict()

    async def verify(self, session: AsyncSession, authorization: str | None) -> AccessClaims:
        """Check the token's signature and claims; a key made by another process is looked up."""
        token = bearer_token(authorization)
        if self.external is not None and self.external.issued(token):
            return await self._external_claims(session, self.external, token)
        await self.keys.learn_key_of(session, token)
        return self.keys.verify(token, issuer=self.issuer, audience=self.audience)

    async def _external_claims(
        self, session: AsyncSession, external: ExternalIssuer, token: str
    ) -> AccessClaims:
        """The identity provider's token, as the hub organisation and user it names."""
        claims = await external.verify(token)
        member = await find_member(session, claims.organisation, claims.user)
        if member is None:
            raise InvalidToken("the identity provider names no enabled user of an organisation")
        return AccessClaims(
            org_id=member.org_id,
            client_id=claims.client_id,
            subject=claims.subject,
            scope=claims.scope,
            jti=claims.jti,
            user_id=member.user_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            audience=external.provider.audience,
            issuer=external.provider.issuer,
            external=True,
        )

    async def actor(
        self,
        session: AsyncSession,
        claims: AccessClaims,
        request_id: str,
        source_address: str | None = None,
    ) -> Actor:
        """Enter the token's organisation for this transaction and confirm the token is live.

        One statement (`enter_request`): the setting, the token's standing, the live grants.
        """
        subject = claims.standing_subject()
        shape = subject.shape
        parameters = standing_parameters(subject)
        checks = await enter_request(
            session,
            claims.org_id,
            lambda after: standing_checks(shape, after),
            parameters,
            shape=("token", shape),
        )
        standing = judge_standing(subject, checks)
        if standing.refusal is not None:
            raise InvalidToken(standing.refusal)
        scopes = parse_scopes(claims.scope)
        if standing.role is not None:
            scopes &= ROLE_SCOPES[standing.role]
        actor = Actor(
            org_id=claims.org_id,
            scopes=scopes,
            client_id=claims.client_id,
            request_id=request_id,
            user_id=claims.user_id,
            role=standing.role,
            source_address=source_address,
        )
        if not claims.external:
            blank = dataclasses.replace(actor, request_id="", source_address=None)
            judged = admission(session, blank, checks, parameters, shape=("token", shape))
            self._remember(_admission_key(claims), judged)
        return actor

    def admitted(
        self, authorization: str | None, request_id: str, source_address: str | None
    ) -> tuple[Actor, Admission] | None:
        """The actor of a token judged live before, by its signature and claims alone, with how
        it was judged; None for any other (the request then enters as `actor` has it).

        The caller must run `admission.gate` before reading anything: the judgement holds only
        where the entry still answers the same.
        """
        claims = self._verified_offline(authorization)
        if claims is None:
            return None  # refused, and audited, where requests enter
        admitted = self._admissions.get(_admission_key(claims))
        if admitted is None:
            return None
        actor = dataclasses.replace(
            admitted.actor, request_id=request_id, source_address=source_address
        )
        return actor, admitted

    def forget(self, authorization: str | None) -> None:
        """Judge the token anew on its next request: its entry no longer answers the same (a
        revocation, a disabled user, a grant made, changed or gone)."""
        claims = self._verified_offline(authorization)
        if claims is not None:
            self._admissions.pop(_admission_key(claims), None)

    def _verified_offline(self, authorization: str | None) -> AccessClaims | None:
        """The claims of a hub-issued token whose signature and claims verify with the keys
        this process knows; None for any other."""
        try:
            token = bearer_token(authorization)
            if self.external is not None and self.external.issued(token):
                return None
            return self.keys.verify(token, issuer=self.issuer, audience=self.audience)
        except (MissingToken, InvalidToken):
            return None

    def _remember(self, key: tuple[object, ...], judged: Admission) -> None:
        self._admissions[key] = judged
        self._admissions.move_to_end(key)
        if len(self._admissions) > _ADMISSIONS_KEPT:
            self._admissions.popitem(last=False)


def _admission_key(claims: AccessClaims) -> tuple[object, ...]:
    """A token as its claims name it: one token, its scopes included."""
    return (claims.org_id, claims.jti, claims.client_id, claims.user_id, claims.scope)
