"""Shared test support: processes the tests start and stop."""
