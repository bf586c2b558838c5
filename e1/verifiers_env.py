"""``load_environment``: E1 for verifiers, as documented; it lives in ``opensoc.families.e1.verifiers_env``."""

from ..families.e1.verifiers_env import load_environment

__all__ = ["load_environment"]
