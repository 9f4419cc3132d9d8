"""Test helpers and fixtures, registered as plugins in tests/conftest.py."""
