"""E1: classify one network flow as Benign, Malicious or Abstain, with a calibrated confidence.

Modules: ``flows`` (typed flow records and the question text), ``readers`` (IoT-23, UNSW-NB15,
CIC-IDS-2017 files), ``synthetic`` (the seeded offline tier), ``builder`` (datasets, dedup,
sampling, manifest), ``audit`` (the cross-validated shortcut audit), ``loading`` (local / hub /
synthetic tiers, and which splits are evaluation-only), ``scoring`` (compatibility and default
rubrics).
"""
