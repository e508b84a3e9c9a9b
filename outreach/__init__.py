"""Miniature Outreach: the shared core (settings, clients, embedded stack, the `outreach` CLI)."""

__version__ = "0.1.0"
