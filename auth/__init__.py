"""OAuth 2: the hub as authorization server (tokens) and resource server (bearer checks)."""
