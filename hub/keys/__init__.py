"""Token signing keys, stored in the database so every hub process signs and verifies alike."""
