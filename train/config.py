"""Stage configurations for the TRL pipeline, read from YAML files in ``train/configs/``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# The learning rate a stage gets when its config names none, by (kind, finetune). LoRA trains a few fresh adapter
# weights and takes rates about ten times those of full fine-tuning, which moves every pretrained weight; GRPO's
# steps follow sampled rewards and are kept an order of magnitude below SFT's.
DEFAULT_LEARNING_RATES = {("sft", "lora"): 2e-4, ("grpo", "lora"): 1e-5, ("sft", "full"): 2e-5, ("grpo", "full"): 1e-6}
# Written for init_adapter in a YAML file or on the command line, these mean "start from the bare base model".
NO_ADAPTER = ("", "none", "null")


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class VllmSettings:
    """Generation through vLLM, when a stage sets ``use_vllm: true`` (``pip install -e '.[train-vllm]'``, CUDA only).

    ``colocate``: vLLM runs in the trainer's process on the training GPU, holding ``gpu_memory_utilization`` of it.
    ``server``: a separate ``trl vllm-serve`` process on GPUs of its own answers at ``server_base_url`` (not port
    8000, which the OpenSOC service uses). ``max_model_length`` bounds prompt + completion tokens; TRL never
    truncates a prompt, so each stage sets it above its longest measured prompt plus ``max_completion_length``.
    """

    mode: Literal["colocate", "server"] = "colocate"
    max_model_length: int | None = None
    gpu_memory_utilization: float = 0.3
    server_base_url: str = "http://localhost:8001"


@dataclass
class StageConfig:
    """One training stage: SFT warm-start or a GRPO curriculum stage."""

    name: str
    kind: Literal["sft", "grpo"]
    output_dir: str
    base_model: str = "Qwen/Qwen2.5-3B-Instruct"
    init_adapter: str | None = None  # continue from this adapter (the previous stage's); "none" clears it
    # lora: train adapters (chained from stage to stage through init_adapter); full: train every weight, and chain
    # stages by naming the previous stage's output folder as base_model (a randomly initialised model has nothing
    # for adapters to adapt).
    finetune: Literal["lora", "full"] = "lora"
    task: str | None = None  # GRPO: the curriculum task; SFT: train on this stage's rows only (None: all stages)
    role: Literal["defender", "attacker", "investigator"] = "defender"
    reward: Literal["in_process", "service"] = "in_process"  # service: environment_factory over the WebSocket
    use_replay_pool: bool = False  # stage 4: replay sound attacker incidents recorded by the server
    run_id: str | None = None  # the server-side attacker run whose crafts are recorded and replayed (self-play)
    train_examples: int = 512
    max_steps: int = 200
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATES for the kind and finetune
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_generations: int = 8
    max_completion_length: int = 256
    max_length: int = 4096  # SFT: prompt + answer tokens
    temperature: float = 1.0
    min_p: float | None = None  # GRPO: sample only tokens at least this share as likely as the likeliest
    beta: float = 0.0  # GRPO: weight of the KL penalty towards the starting policy (0: no reference model)
    top_entropy_quantile: float = 1.0  # GRPO: train only on this top share of completion tokens by entropy
    stop_without_signal: int = 0  # GRPO: stop after this many logged steps in a row whose groups all scored alike
    eval_every: int = 0  # evaluate on the hold-out every this many optimizer steps and at the end (0: never)
    eval_limit: int | None = None  # at most this many hold-out items per task in those evaluations
    eval_max_new_tokens: int = 256
    eval_batch_size: int = 16
    bf16: bool | None = None  # None: bf16 when a CUDA device supports it, float32 otherwise
    use_cpu: bool | None = None  # None: the CPU only when there is no CUDA device
    use_vllm: bool = False
    vllm: VllmSettings = field(default_factory=VllmSettings)
    use_unsloth: bool = False
    logging_steps: int = 5
    seed: int = 0
    lora: LoraSettings = field(default_factory=LoraSettings)

    @classmethod
    def from_dict(cls, data: dict) -> StageConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        data = dict(data)
        if isinstance(data.get("init_adapter"), str) and data["init_adapter"].strip().lower() in NO_ADAPTER:
            data["init_adapter"] = None
        if isinstance(data.get("lora"), dict):
            data["lora"] = LoraSettings(**data["lora"])
        if isinstance(data.get("vllm"), dict):
            data["vllm"] = VllmSettings(**data["vllm"])
        config = cls(**data)
        if config.finetune == "full" and config.init_adapter:
            raise ValueError("finetune: full trains the base model itself; chain from a previous stage by naming its "
                             "output folder as base_model, and set init_adapter to none")
        return config

    @property
    def resolved_learning_rate(self) -> float:
        """The configured learning rate, or the default for this stage's kind and finetune."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[(self.kind, self.finetune)]

    @property
    def resolved_use_cpu(self) -> bool:
        return self.use_cpu if self.use_cpu is not None else not _cuda_available()

    @property
    def resolved_bf16(self) -> bool:
        """bf16 as configured, or whenever training runs on a CUDA device that supports it."""
        if self.bf16 is not None:
            return self.bf16
        if self.resolved_use_cpu or not _cuda_available():
            return False
        import torch  # optional heavy dependency: torch

        return torch.cuda.is_bf16_supported()

    @classmethod
    def load(cls, path: str | Path, **overrides) -> StageConfig:

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)


def _cuda_available() -> bool:
    import torch  # optional heavy dependency: torch

    return torch.cuda.is_available()


def stage_main(run, doc: str, argv: list[str] | None = None) -> None:
    """The command line shared by ``opensoc.train.sft`` and ``opensoc.train.grpo``: a config, with overrides."""

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--config", required=True, help="a YAML file in train/configs/")
    parser.add_argument("--base-model")
    parser.add_argument("--init-adapter", help="continue from this adapter (the previous stage's); none: from the "
                        "bare base model")
    parser.add_argument("--finetune", choices=["lora", "full"], help="lora adapters, or every weight")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--output-dir")
    args = parser.parse_args(argv)
    run(StageConfig.load(args.config, base_model=args.base_model, init_adapter=args.init_adapter, finetune=args.finetune,
                         learning_rate=args.learning_rate, max_steps=args.max_steps, output_dir=args.output_dir))
