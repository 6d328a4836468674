"""authlib's view of our API clients: what each may ask for, and how it proves who it is."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import ClientMixin

from hub.orgs.clients import ClientForAuthentication
from hub.orgs.credentials import verify_secret

CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass
class RegisteredClient(ClientMixin):
    record: ClientForAuthentication

    @property
    def org_id(self) -> uuid.UUID:
        return self.record.org_id

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        """None: the redirect URI must always be named, and match a registered one exactly."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested ∩ allowed; no request means everything the client may have."""
        allowed = set(self.record.allowed_scopes)
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(sorted(word for word in scope.split() if word in allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return not self.record.disabled and redirect_uri in self.record.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        # Verify first, so unknown, disabled and live clients cost the same time.
        matches = verify_secret(self.record.secret_hash or None, client_secret)
        return matches and not self.record.disabled and not self.record.public

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.disabled:
            return False
        if self.record.public:
            return method == "none"
        return method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return not self.record.disabled and grant_type in self.record.grant_types


def unknown_client(client_id: str) -> ClientForAuthentication:
    """Stands in for a client id we do not know, so it fails exactly like a wrong secret."""
    return ClientForAuthentication(
        org_id=uuid.UUID(int=0),
        client_id=client_id,
        secret_hash="",
        allowed_scopes=(),
        disabled=True,
    )
