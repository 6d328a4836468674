"""Grants: how an owner shares records with a partner, for a purpose, field by field."""
