"""What the authorization server remembers between requests.

Access tokens are self-contained JWTs; what outlives them here is what makes them revocable:
the family each one belongs to (`sid` claim) and the deny-list of revoked `jti`s. Codes and
refresh tokens are stored only as SHA-256 hashes: they are random, so a hash cannot be guessed
back, and a leak of this table hands out nothing usable.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import TenantModel


class TokenFamily(TenantModel):
    """One sign-in's chain of tokens: its code, every refresh token and every access token.

    Revoking the family (a reused code or refresh token, a revoked refresh token, sign-out)
    kills every token in it on the very next request.
    """

    __tablename__ = "token_families"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        ForeignKeyConstraint(["org_id", "user_id"], ["users.org_id", "users.id"]),
    )

    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column()
    scope: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class AuthorizationCode(TenantModel):
    """A code handed to the client's redirect URI: single use, short-lived, PKCE-bound."""

    __tablename__ = "authorization_codes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "family_id"], ["token_families.org_id", "token_families.id"]
        ),
        Index("uq_authorization_codes_org_id_code_hash", "org_id", "code_hash", unique=True),
    )

    code_hash: Mapped[str] = mapped_column(String(64))
    family_id: Mapped[uuid.UUID] = mapped_column()
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column()
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(TenantModel):
    """An opaque refresh token; `rotated_at` marks it spent, and spending it twice is theft."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "family_id"], ["token_families.org_id", "token_families.id"]
        ),
        Index("uq_refresh_tokens_org_id_token_hash", "org_id", "token_hash", unique=True),
        Index("ix_refresh_tokens_org_id_family_id", "org_id", "family_id"),
    )

    token_hash: Mapped[str] = mapped_column(String(64))
    family_id: Mapped[uuid.UUID] = mapped_column()
    scope: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedToken(TenantModel):
    """The deny-list of access tokens revoked one by one; rows may go once `expires_at` passed."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("uq_revoked_tokens_org_id_jti", "org_id", "jti", unique=True),)

    jti: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(40))


__all__ = ["AuthorizationCode", "RefreshToken", "RevokedToken", "TokenFamily"]
