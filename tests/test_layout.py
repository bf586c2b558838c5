"""The shape of the package, held by tests: the root holds the design card's names, imports point down (no
circles), a function imports only an optional heavy dependency and says so, and no module reaches into another
package's private names."""

from __future__ import annotations

import ast

from support.imports import REPO, import_graph, module_files

# The design card's names, plus the few a newcomer expects.
ROOT_MODULES = {"__init__", "app_runtime", "cli", "demo_app", "env", "generator", "models", "rubric", "schema",
                "server", "verifier"}
# Third-party packages heavy enough, or optional enough (an extra), to import only where they are used.
HEAVY = {"torch", "transformers", "trl", "peft", "datasets", "verifiers", "matplotlib", "gradio", "uvicorn", "unsloth",
         "tokenizers", "accelerate", "vllm", "openenv"}
MARK = "optional heavy dependency"


def test_the_root_holds_the_design_cards_names():
    found = {p.stem for p in REPO.glob("*.py")}
    assert found == ROOT_MODULES, f"move {sorted(found - ROOT_MODULES)} into a package named for its job"


def test_imports_point_down():
    graph = import_graph()
    cycles = graph.cycles()
    assert not cycles, f"import circles: {cycles}"


def test_a_function_imports_only_an_optional_heavy_dependency_and_says_so():
    graph = import_graph()
    bad = []
    for site in graph.inner:
        heavy = site.top in HEAVY or graph.pulls_heavy(site.target, HEAVY)
        if not heavy or MARK not in site.line:
            bad.append(f"{site.path}:{site.lineno}: {site.line}")
    assert not bad, "imports inside functions that are not a marked optional heavy dependency:\n" + "\n".join(bad)


def test_no_module_imports_another_packages_private_name():
    bad = []
    for path, _module in module_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # A private name is the business of its own package: from there (``from .x import _y``) it may be used.
            if isinstance(node, ast.ImportFrom) and node.level != 1:
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                parts = (node.module or "").split(".")
                if names or any(p.startswith("_") and not p.startswith("__") for p in parts):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}: from {node.module} import {names}")
    assert not bad, "\n".join(bad)


def test_every_package_says_what_its_modules_are_for():
    missing = [str(p.relative_to(REPO)) for p in REPO.glob("*/__init__.py")
               if p.parent.name not in ("tests",) and not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert not missing, f"packages without a docstring: {missing}"


# Tests at the top of tests/: the root modules' own, and the repository's (docs, tooling, identity, layout, the image,
# the examples). Every other test lives in tests/<package>/, as the package does.
TOP_LEVEL_TESTS = {"test_adversarial", "test_cli", "test_determinism", "test_docker", "test_docs", "test_env",
                   "test_examples", "test_generator", "test_identity", "test_label_leaks", "test_layout", "test_rubric",
                   "test_schema", "test_tooling", "test_verifier"}


def test_tests_mirror_the_package():
    tests = REPO / "tests"
    stray = []
    for path in sorted(tests.rglob("test_*.py")):
        rel = path.relative_to(tests)
        if len(rel.parts) == 1:
            if path.stem not in TOP_LEVEL_TESTS:
                stray.append(f"{rel}: a test of a package lives in tests/<package>/")
        elif rel.parts[0] == "support" or not (REPO.joinpath(*rel.parts[:-1]) / "__init__.py").is_file():
            stray.append(f"{rel}: tests/{'/'.join(rel.parts[:-1])} is no package of opensoc")
    assert not stray, "\n".join(stray)


def test_conftest_holds_only_fixtures():
    """Helpers live in tests/support and are imported from there; conftest.py defines fixtures and nothing else."""
    tree = ast.parse((REPO / "tests" / "conftest.py").read_text(encoding="utf-8"))
    defined = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                               ast.Assign, ast.AnnAssign))]
    not_fixtures = [getattr(node, "name", ast.unparse(node)) for node in defined
                    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    or not any("fixture" in ast.unparse(d) for d in node.decorator_list)]
    assert not not_fixtures, f"move these into tests/support: {not_fixtures}"
