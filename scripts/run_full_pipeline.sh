#!/usr/bin/env bash
# The full GPU pipeline: SFT warm-start, the 4-stage GRPO curriculum, hold-out evaluation with plots,
# and baking the demo's before/after examples, in that order.
#
#   BASE_MODEL=Qwen/Qwen2.5-3B-Instruct OUT=runs bash scripts/run_full_pipeline.sh
#
# Needs the training extra (pip install -e '.[train]' plus a CUDA build of torch) and one GPU of 40 GB or more:
# a 3B model in bf16 with LoRA peaks around 30 GB (estimated; see the README's Hardware and time). Stage configs live in
# train/configs/.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_MODEL=${BASE_MODEL:-Qwen/Qwen2.5-3B-Instruct}
OUT=${OUT:-runs}
CONFIGS=${CONFIGS:-train/configs}

echo "== SFT warm-start"
python -m opensoc.train.sft --config "$CONFIGS/sft.yaml" --base-model "$BASE_MODEL" --output-dir "$OUT/adapters/sft"

previous="$OUT/adapters/sft"
for stage in 1 2 3 4; do
    echo "== GRPO stage $stage"
    python -m opensoc.train.grpo --config "$CONFIGS/stage$stage.yaml" --base-model "$BASE_MODEL" \
        --init-adapter "$previous" --output-dir "$OUT/adapters/stage$stage"
    previous="$OUT/adapters/stage$stage"
done

echo "== Hold-out evaluation and plots"
opensoc eval --policy always_dismiss random heuristic cpu_defender hf --hf-model "$BASE_MODEL" --hf-adapter "$previous" \
    --split holdout --out "$OUT/eval"

echo "== Demo examples (before: heuristic, after: the trained adapter)"
python -m opensoc.eval.bake_demo --before heuristic --after hf --hf-model "$BASE_MODEL" --hf-adapter "$previous" \
    --out "$OUT/demo_examples.json"
echo "done: adapters in $OUT/adapters, evaluation in $OUT/eval, demo examples in $OUT/demo_examples.json"
