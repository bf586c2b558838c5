#!/usr/bin/env bash
# Tests E1's taskset for verifiers 0.4 in an environment of its own: verifiers 0.4 pins mcp 2.0, which openenv 0.10's
# fastmcp refuses (mcp<2), so the two cannot share the dev environment. The environment lives outside the checkout,
# where `openenv validate .` (which refuses symbolic links inside the package) never walks into it, and is removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
python3 -m venv "$home/venv"
"$home/venv/bin/python" -m pip install --quiet --upgrade pip
"$home/venv/bin/pip" install --quiet -e '.[verifiers]' 'verifiers>=0.4,<0.5' pytest
"$home/venv/bin/pytest" -p no:cacheprovider tests/families/e1/test_e1_verifiers.py
