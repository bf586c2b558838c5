"""GRPO on one curriculum stage: ``python -m opensoc.train.grpo --config train/configs/stage1.yaml``.

``reward: in_process`` puts the alert in the prompt and scores completions with
``rewards.defender_reward``; ``reward: service`` hands TRL ``OpenSOCDefenderEnv`` (or the
attacker twin) as ``environment_factory``, so the model triages by calling the tool and the
running service scores it. ``role: investigator`` trains on an investigation task through
``OpenSOCInvestigatorEnv``: the SIEM's tools are the environment's methods.
"""

from __future__ import annotations

from pathlib import Path

from .config import StageConfig, stage_main
from .datasets import attacker_dataset, grpo_dataset, investigation_dataset
from .models import (
    generation_args,
    lora_config,
    prepare_model,
    save_stage,
    trainer_args,
)
from .rewards import defender_reward
from .trl_env import (
    OpenSOCAttackerEnv,
    OpenSOCDefenderEnv,
    OpenSOCInvestigatorEnv,
    attacker_outcome_rates,
)


def run_grpo(config: StageConfig, model=None, tokenizer=None, environment_factory=None) -> Path:
    """Train one stage and save its adapter (the model with ``finetune: full``) and metrics to ``config.output_dir``.

    ``environment_factory`` replaces the role's service environment with another that reads the same rows (self-play's
    in-process environments, ``selfplay``)."""
    from trl import GRPOConfig, GRPOTrainer  # optional heavy dependency: trl

    from .callbacks import stage_callbacks  # optional heavy dependency: pulls in transformers

    model, tokenizer = prepare_model(config, model, tokenizer)
    weights = None
    if config.role == "attacker":
        dataset = attacker_dataset(config.task, config.train_examples, run_id=config.run_id)
        # The service's reward comes from the environment; the extra function only logs contested and unsound rates.
        kwargs = {"environment_factory": OpenSOCAttackerEnv, "reward_funcs": [attacker_outcome_rates]}
        weights = [0.0]
    elif config.role == "investigator":
        dataset = investigation_dataset(config.task, config.train_examples)
        kwargs = {"environment_factory": OpenSOCInvestigatorEnv}
    elif config.reward == "service":
        dataset = grpo_dataset(config.task, config.train_examples, with_alert=False, use_replay_pool=config.use_replay_pool,
                               run_id=config.run_id)
        kwargs = {"environment_factory": OpenSOCDefenderEnv}
    else:
        dataset = grpo_dataset(config.task, config.train_examples, with_alert=True)
        kwargs = {"reward_funcs": [defender_reward]}
    if environment_factory is not None:
        kwargs["environment_factory"] = environment_factory
    args = GRPOConfig(**trainer_args(config), num_generations=config.num_generations, temperature=config.temperature,
                      max_completion_length=config.max_completion_length, reward_weights=weights, min_p=config.min_p,
                      beta=config.beta, top_entropy_quantile=config.top_entropy_quantile, **generation_args(config))
    trainer = GRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          peft_config=lora_config(config), callbacks=stage_callbacks(config), **kwargs)
    trainer.train()
    return save_stage(trainer, config.output_dir)


def main() -> None:
    stage_main(run_grpo, __doc__)


if __name__ == "__main__":
    main()
