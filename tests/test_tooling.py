"""The tools that hold the style are configured to: ruff and mypy run before the tests, mypy's allowance for modules
that do not type-check yet names only modules that exist and may only shrink, and every lint exception names a file
that exists."""

from __future__ import annotations

import tomllib

from support import REPO

# How many modules the mypy allowance held when it was written; lower it as modules leave the list, never raise it.
ALLOWANCE_CEILING = 41

CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _allowance() -> list[str]:
    (override,) = [o for o in CONFIG["tool"]["mypy"]["overrides"] if o.get("ignore_errors")]
    return override["module"]


def _module_exists(name: str) -> bool:
    parts = name.split(".")
    assert parts[0] == "opensoc", name
    base = REPO.joinpath(*parts[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_the_mypy_allowance_names_only_modules_that_exist():
    allowance = _allowance()
    assert [m for m in allowance if not _module_exists(m)] == []
    assert allowance == sorted(set(allowance)), "one alphabetical block, each module once"


def test_the_mypy_allowance_only_shrinks():
    assert len(_allowance()) <= ALLOWANCE_CEILING, "a module was added to the allowance: make it type-check instead"


def test_mypy_checks_the_package_with_pydantic_and_python_3_11():
    mypy = CONFIG["tool"]["mypy"]
    assert mypy["packages"] == ["opensoc"] and mypy["python_version"] == "3.11" and "pydantic.mypy" in mypy["plugins"]
    untyped = [o for o in mypy["overrides"] if o.get("ignore_missing_imports")]
    assert untyped and all(not m.startswith("opensoc") for o in untyped for m in o["module"])


def test_every_lint_exception_names_a_file_that_exists():
    ignores = CONFIG["tool"]["ruff"]["lint"]["per-file-ignores"]
    assert [path for path in ignores if not (REPO / path).is_file()] == []


def test_ci_lints_and_type_checks_before_the_tests():
    command = (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()[-1]
    steps = [step.strip() for step in command.split("&&")]
    assert steps.index("ruff check .") < steps.index("scripts/typecheck.sh") < steps.index("pytest")
    typecheck = REPO / "scripts" / "typecheck.sh"
    assert typecheck.stat().st_mode & 0o111 and "mypy" in typecheck.read_text(encoding="utf-8")
    dev = CONFIG["project"]["optional-dependencies"]["dev"]
    assert any(r.startswith("ruff==") for r in dev) and any(r.startswith("mypy==") for r in dev)
