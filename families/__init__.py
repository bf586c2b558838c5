"""The task families OpenSOC serves, each a folder behind the episode protocol of ``base``.

``registry`` lists them and finds the family that serves a task; ``triage``, ``investigation`` and ``e1`` are the
families; ``runs`` is what a run of attacker episodes shares.
"""
