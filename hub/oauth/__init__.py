"""OAuth state the hub keeps: authorization codes, token families, refresh tokens, revocations."""
