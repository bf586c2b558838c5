"""Whether an attacker's craft may pay: the gate in front of the attacker's reward.

- ``gate``: ``adjudicate``, the verdict on a craft and the checks that decide whether it can be trusted.
- ``contest``: the independent suspicion check (Sigma rules in ``rules/``) and the contest it raises.
"""
