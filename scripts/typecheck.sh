#!/usr/bin/env bash
# mypy over the opensoc package, with the settings in pyproject.toml ([tool.mypy]); arguments go to mypy.
#
# The repository root is the package, under whatever name the checkout has, and mypy cannot follow setuptools'
# editable install (an import hook): a link named opensoc in a folder outside the checkout shows mypy the package.
# The link lives outside because `openenv validate .` refuses symbolic links inside the package. Paths in the report
# are the checkout's.
set -euo pipefail
cd "$(dirname "$0")/.."
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
ln -s "$PWD" "$home/opensoc"
MYPYPATH="$home" mypy "$@" 2>&1 | sed "s#$home/opensoc/##g"
