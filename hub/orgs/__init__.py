"""Organisations, their users and their OAuth clients."""
