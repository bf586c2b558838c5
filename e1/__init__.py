"""The documented entry point of E1 for verifiers: ``opensoc.e1.verifiers_env.load_environment``.

E1 itself is the task family in ``opensoc.families.e1``.
"""
