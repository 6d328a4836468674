"""Alembic migrations: schema, roles and row-level security policies."""
