"""Opportunities: the deals an organisation is working."""
