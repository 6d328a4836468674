"""Client secrets (and later passwords): argon2 hashes only; the clear text is shown once."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verifying against this keeps the time of an unknown-client check close to a known one's.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def normalise_email(email: str) -> str:
    """Addresses compare case-insensitively: one person, one account, one sign-in throttle."""
    return email.strip().lower()


def new_client_id() -> str:
    return f"hub_{secrets.token_urlsafe(12)}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest_token(token: str) -> str:
    """How random one-time values (codes, refresh and invitation tokens) are kept.

    They carry enough entropy that a fast one-way hash cannot be reversed; argon2 is for
    secrets people may choose or reuse.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when `secret` matches; a missing hash still costs one verification."""
    try:
        return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False
