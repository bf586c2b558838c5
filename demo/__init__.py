"""What the demo at ``/demo`` shows, computed from the core (``demo_app`` lays it out).

- ``data``: incidents with both defenders' decisions, and attacker checks.
- ``replay``: an investigation replayed step by step.
"""
