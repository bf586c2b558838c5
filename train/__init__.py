"""Training: the CPU policies (numpy, policy gradient from the environment's reward) and the TRL pipeline.

CPU path: ``features`` (hashed observation features), ``cpu_defender``, ``cpu_attacker``.
GPU path (optional extra ``train``): ``trl_env`` (TRL environment classes), ``sft``, ``grpo``, ``selfplay``.
"""
