"""Typed settings, read once from the environment.

Every knob an operator may turn lives here so that the README can document one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Hub settings; environment variables are the names in upper case."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="Owner connection (migrations). Unset: an embedded PostgreSQL is started.",
    )
    app_database_url: str | None = Field(
        default=None,
        description="Connection for the application role; derived from DATABASE_URL when unset.",
    )
    app_db_password: str | None = Field(
        default=None, description="Password given to the application role by `hub migrate`."
    )
    data_dir: Path = Field(default=Path(".hub-data"), description="Embedded PostgreSQL data.")
    issuer: str = Field(default="http://127.0.0.1:8000", description="Token issuer (`iss`).")
    audience: str = Field(default="partner-hub", description="Resource identifier (`aud`).")
    access_token_ttl_seconds: int = Field(default=600, ge=30, le=900)
    session_secret: str | None = Field(
        default=None,
        description="Signs sign-in session cookies; set it when more than one hub process runs.",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Session cookies only over HTTPS; default: when the issuer is https.",
    )
    idp_issuer: str | None = Field(
        default=None,
        description="An external identity provider whose access tokens the hub accepts (`iss`).",
    )
    idp_jwks_url: str | None = Field(default=None, description="Where that provider's keys are.")
    idp_audience: str | None = Field(
        default=None, description="The `aud` its tokens carry for the hub; default: HUB_AUDIENCE."
    )
    idp_org_claim: str = Field(
        default="hub_org", description="Claim holding the hub organisation's slug."
    )
    idp_user_claim: str = Field(
        default="email", description="Claim holding the user's e-mail address in that organisation."
    )
    idp_token_types: str = Field(
        default="at+jwt",
        description="Accepted `typ` headers, comma-separated (JWT for non-RFC 9068 providers).",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_query_depth: int = Field(default=10, ge=2)
    max_aliases: int = Field(default=15, ge=1)
    max_tokens: int = Field(default=2000, ge=50)
    max_page_size: int = Field(default=100, ge=1, le=100)
    pool_size: int = Field(default=10, ge=1)
    seal_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often each process seals waiting disclosures into the chains (0: never).",
    )
    cors_remember_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process keeps whether a web origin is registered (CORS).",
    )
    introspection: bool = Field(default=True, description="Allow schema introspection.")
    compiled_reads: bool = Field(
        default=True,
        description="Answer hot read documents in one SQL statement (ADR 0018); off runs every "
        "document through the resolvers.",
    )
    log_level: str = Field(default="INFO")

    @model_validator(mode="after")
    def _identity_provider_is_complete(self) -> Settings:
        if bool(self.idp_issuer) != bool(self.idp_jwks_url):
            raise ValueError("HUB_IDP_ISSUER and HUB_IDP_JWKS_URL are set together or not at all")
        return self

    @property
    def cookies_are_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.issuer.startswith("https://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own instances."""
    return Settings()
