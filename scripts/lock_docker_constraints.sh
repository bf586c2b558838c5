#!/usr/bin/env bash
# Rewrite constraints/docker.txt: every distribution the container's install pulls in, at the version it resolves to
# today, so a Space rebuild installs exactly what was tested (tests/test_docker.py replays the install with it).
#
#   bash scripts/lock_docker_constraints.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --no-cache-dir .
{
    echo "# The container's dependencies, pinned: Dockerfile installs with -c constraints/docker.txt."
    echo "# Written by scripts/lock_docker_constraints.sh (pip freeze of a fresh 'pip install .'); a test replays the"
    echo "# install and fails when a pin is missing, stale, or disagrees with pyproject.toml."
    "$scratch/venv/bin/python" -m pip freeze --exclude opensoc
} > constraints/docker.txt
echo "wrote constraints/docker.txt ($(grep -vc '^#' constraints/docker.txt) pins)"
