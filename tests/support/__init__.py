"""Helpers shared by test folders: `tests/` is on sys.path (tests/conftest.py), so any test
imports them as `from support.<module> import ...`."""
