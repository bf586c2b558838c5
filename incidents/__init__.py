"""What both incident roles share: the alert a defender sees, the built-in defenders, and the prompts.

- ``alerting``: the SIEM alert materialised from an incident's events.
- ``defenders``: the built-in defender playbooks (``heuristic``, ``analyst``).
- ``prompting``: what each role is told, and how an answer is read back.
"""
