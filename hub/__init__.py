"""Partner Hub: organisations share CRM data with their partners under OAuth-scoped grants."""

__version__ = "0.1.0"
