#!/usr/bin/env bash
# The GPU check: one command, on a machine with one CUDA GPU (sized for an H200, within 8 minutes), that
#   1. installs the wheels carried in .whl/ that the machine's image lacks (trl, datasets, pydantic, pySigma, ...),
#   2. measures a few SFT and GRPO steps of the Qwen2.5-0.5B and -3B shapes (random init from a config, bf16, the
#      stage configs' 8 prompts x 8 generations), greedy generation, and a hold-out evaluation through
#      `opensoc eval --policy hf`, asserting that CUDA was used (bench/gpu_bench.py),
#   3. runs `opensoc train scratch` scaled up (the arguments in the block below),
# and writes bench/gpu_results.json (and copies it to $OUT when that is set). With --selfplay it runs instead, in its
# own 8 minutes, two rounds of the LLM self-play at the 0.5B shape (python -m opensoc.train.selfplay's rounds: both
# roles through TRL, separate adapters, one run) and writes bench/gpu_selfplay_results.json.
#
#   bash scripts/gpu_check.sh --download-wheels   # first, on a machine that reaches PyPI: fills .whl/ (git-ignored)
#   bash scripts/gpu_check.sh                     # then on the GPU machine, with .whl/ carried along
#   bash scripts/gpu_check.sh --selfplay          # the LLM self-play check, on the GPU machine
#   bash scripts/gpu_check.sh --smoke [--out FILE] # every phase, self-play included, on the CPU with tiny sizes (the
#                                                  # test suite runs it)
#
# Exit status: 0 all phases ran (on CUDA unless --smoke); 2 no CUDA device or no wheels; 4 a phase failed or did not
# fit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

# ===== BEGIN scratch block: the arguments of `opensoc train scratch` (the script adds --out) =====
# The GPU run scales the from-scratch recipe up to what the rest of the 8 minutes holds on one H200.
SCRATCH_GPU_ARGS=(--device cuda --seed 0 --size large --sft-steps 400 --grpo-steps 100)
# The smoke run: the smallest sizes, on the CPU, in seconds.
SCRATCH_SMOKE_ARGS=(--device cpu --seed 0 --size tiny --sft-steps 2 --grpo-steps 1)
# ===== END scratch block =====

# What the GPU image lacks, one version each, for CPython 3.12 on x86-64 Linux (versions that install together there;
# the image brings torch, transformers, peft, accelerate, numpy, pandas, pyarrow, matplotlib, pyyaml, tqdm, httpx).
WHEELS=(trl==1.16.0 datasets==4.8.5 dill==0.4.1 multiprocess==0.70.19 pydantic==2.14.3 pydantic_core==2.50.4
        annotated-types==0.8.0 typing-inspection==0.4.5 fastapi==0.165.0 starlette==1.10.0 uvicorn==0.54.0
        websockets==17.4 typing_extensions==4.16.0 opentelemetry-api==1.45.2
        pysigma==2.0.1 pysigma-backend-sqlite==2.1.1 publicsuffixlist==1.1.2.20261023 diskcache==5.6.3
        google-re2==1.1.20251105 jq==1.13.0 pyparsing==3.3.3 requests==2.34.2 urllib3==2.8.0
        charset-normalizer==3.5.3 xxhash==4.1.0)

mode=gpu
out=""
case "${1:-}" in
    --download-wheels) mode=download ;;
    --smoke) mode=smoke; [[ "${2:-}" == "--out" ]] && out=${3:?--out needs a file} ;;
    --selfplay) mode=selfplay ;;
    "") ;;
    *) echo "usage: $0 [--download-wheels | --selfplay | --smoke [--out FILE]]" >&2; exit 64 ;;
esac

if [[ $mode == download ]]; then
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
    echo "gpu_check: $(ls .whl/*.whl | wc -l) wheels in .whl/ ($(du -sh .whl | cut -f1)); carry .whl to the GPU machine"
    exit 0
fi

if [[ $mode == smoke ]]; then
    python=${PYTHON:-python3}
    out=${out:-${TMPDIR:-/tmp}/opensoc-gpu-smoke/gpu_results.json}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    exec "$python" bench/gpu_bench.py --smoke --out "$out" --work "$work/runs" --scratch-out "$work/scratch" \
        -- --out "$work/scratch" "${SCRATCH_SMOKE_ARGS[@]}"
fi

# The GPU run.
python=python3
if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: ERROR: no CUDA device here; run it on the GPU machine, or use --smoke on a CPU" >&2
    exit 2
fi
shopt -s nullglob
wheels=(.whl/*.whl)
if ((${#wheels[@]} == 0)); then
    echo "gpu_check: ERROR: no wheels in .whl/; run '$0 --download-wheels' where PyPI is reachable and carry .whl" >&2
    exit 2
fi
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
# The package is the repository root mapped to `opensoc`: a symlink makes it importable without building it.
mkdir -p /tmp/pkgs && ln -sfn "$REPO" /tmp/pkgs/opensoc
export PYTHONPATH=/tmp/site:/tmp/pkgs${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
work=/tmp/gpu_check
rm -rf "$work"
status=0
# 8 minutes in all: the phases' budget leaves time for the install, the start and a margin.
if [[ $mode == selfplay ]]; then
    results=bench/gpu_selfplay_results.json
    timeout 460 "$python" bench/gpu_bench.py --selfplay --out "$results" --work "$work/runs" \
        --scratch-out "$work/scratch" --budget-s 420 || status=$?
else
    results=bench/gpu_results.json
    timeout 460 "$python" bench/gpu_bench.py --out "$results" --work "$work/runs" --scratch-out "$work/scratch" \
        --budget-s 420 -- --out "$work/scratch" "${SCRATCH_GPU_ARGS[@]}" || status=$?
fi
if [[ -n "${OUT:-}" && -f $results ]]; then
    cp "$results" "$OUT/"
fi
exit "$status"
