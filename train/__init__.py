"""Training: the CPU policies (numpy, policy gradient from the environment's reward) and the TRL pipeline.

CPU path: ``cpu_defender``, ``cpu_attacker`` (over ``incidents.features``, the hashed observation features,
and ``incidents.linear_policy``).
GPU path (optional extra ``train``): ``trl_env`` (TRL environment classes), ``sft``, ``grpo``, ``selfplay``.
"""
