#!/usr/bin/env bash
# Deploy OpenSOC to a Hugging Face Docker Space with huggingface_hub.
#
#   HF_TOKEN=... bash scripts/deploy_to_hf.sh <user-or-org>/<space-name>
#   bash scripts/deploy_to_hf.sh <user-or-org>/<space-name> --dry-run   # list what would be uploaded; no network
#
# The Space builds the repository's Dockerfile (its dependencies pinned by constraints/docker.txt); README.md's front
# matter (sdk: docker, app_port: 8000, base_path: /demo, tags: [openenv]) configures it. The Space mirrors the files
# git tracks, minus tests, CI and benchmarks: a file the Space holds that is not among them is deleted (except the
# Hub's own .gitattributes), so a file git stopped tracking does not linger. Anything but these arguments, in this
# order, is refused before anything is read or sent.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: $0 <namespace>/<space> [--dry-run]"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "$usage" >&2
    exit 2
fi
REPO_ID=$1
DRY_RUN=no
if [ $# -eq 2 ]; then
    if [ "$2" != "--dry-run" ]; then
        echo "unknown argument '$2'; $usage" >&2
        exit 2
    fi
    DRY_RUN=yes
fi
if ! [[ $REPO_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    echo "repo id must be <namespace>/<space> (letters, digits, . _ -), got '$REPO_ID'; $usage" >&2
    exit 2
fi
exec python3 - "$REPO_ID" "$DRY_RUN" <<'PY'
import os
import subprocess
import sys

repo_id, dry_run = sys.argv[1], sys.argv[2] == "yes"
EXCLUDED = ("tests/", ".ci/", "bench/", ".github/")
files = [f for f in subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.splitlines()
         if not f.startswith(EXCLUDED)]
for required in ("Dockerfile", "README.md", "server.py", "pyproject.toml", "openenv.yaml", "constraints/docker.txt"):
    if required not in files:
        sys.exit(f"{required} is not tracked by git; the Space cannot build without it")
size = sum(os.path.getsize(f) for f in files)
if dry_run:
    print(f"dry run: would create or update the Docker Space {repo_id} and upload {len(files)} files ({size / 1e6:.1f} MB):")
    for f in files:
        print(f"  {f}")
    print("and delete every other file the Space holds, except .gitattributes")
    sys.exit(0)
from huggingface_hub import HfApi

token = os.environ.get("HF_TOKEN")
if not token:
    sys.exit("HF_TOKEN is not set (a write token from https://huggingface.co/settings/tokens)")
api = HfApi(token=token)
api.create_repo(repo_id, repo_type="space", space_sdk="docker", exist_ok=True)
# delete_patterns="*" removes what the upload does not bring; the Hub keeps its .gitattributes whatever the pattern.
api.upload_folder(folder_path=".", repo_id=repo_id, repo_type="space", allow_patterns=files, delete_patterns="*",
                  commit_message="Deploy OpenSOC")
print(f"deployed: https://huggingface.co/spaces/{repo_id}")
PY
