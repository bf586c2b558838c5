"""Incident triage: the curriculum tasks, in three modes (``family``)."""
