"""Helpers the tests share: built with the tests, imported by them (never through conftest)."""
