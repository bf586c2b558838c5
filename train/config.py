"""Stage configurations for the TRL pipeline, read from YAML files in ``train/configs/``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


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
    init_adapter: str | None = None  # continue from this adapter (the previous stage's)
    task: str | None = None  # GRPO: the curriculum task
    role: Literal["defender", "attacker", "investigator"] = "defender"
    reward: Literal["in_process", "service"] = "in_process"  # service: environment_factory over the WebSocket
    use_replay_pool: bool = False  # stage 4: replay sound attacker incidents recorded by the server
    run_id: str | None = None  # the server-side attacker run whose crafts are recorded and replayed (self-play)
    train_examples: int = 512
    max_steps: int = 200
    learning_rate: float = 1e-5
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_generations: int = 8
    max_completion_length: int = 256
    max_length: int = 4096  # SFT: prompt + answer tokens
    temperature: float = 1.0
    bf16: bool = True
    use_cpu: bool = False
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
        if isinstance(data.get("lora"), dict):
            data["lora"] = LoraSettings(**data["lora"])
        if isinstance(data.get("vllm"), dict):
            data["vllm"] = VllmSettings(**data["vllm"])
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path, **overrides) -> StageConfig:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)


def stage_main(run, doc: str, argv: list[str] | None = None) -> None:
    """The command line shared by ``opensoc.train.sft`` and ``opensoc.train.grpo``: a config, with overrides."""
    import argparse

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--config", required=True, help="a YAML file in train/configs/")
    parser.add_argument("--base-model")
    parser.add_argument("--init-adapter", help="continue from this adapter (the previous stage's)")
    parser.add_argument("--output-dir")
    args = parser.parse_args(argv)
    run(StageConfig.load(args.config, base_model=args.base_model, init_adapter=args.init_adapter,
                         output_dir=args.output_dir))
