"""Retention: how long an organisation keeps its audit events and closed records."""
