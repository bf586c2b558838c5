"""The package's import graph, read from its source with ``ast``: module-level edges, imports inside functions, and
whether importing a module pulls in a heavy third-party package."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from support import REPO

OUTSIDE = ("tests", "bench", "scripts", "examples", ".venv", ".git", "build", "dist", "runs")


def module_files() -> Iterator[tuple[Path, str]]:
    """(path, dotted module name) of every module of the package."""
    for path in sorted(REPO.rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[0] in OUTSIDE or any(p.startswith(".") for p in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(["opensoc", *parts])


@dataclass(frozen=True)
class InnerImport:
    path: str
    lineno: int
    line: str
    target: str  # the module imported (dotted, absolute)
    top: str  # its top-level package


@dataclass
class ImportGraph:
    edges: dict[str, set[str]] = field(default_factory=dict)  # module-level imports between package modules
    external: dict[str, set[str]] = field(default_factory=dict)  # module-level third-party top-level packages
    inner: list[InnerImport] = field(default_factory=list)

    def cycles(self) -> list[list[str]]:
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        found: list[list[str]] = []
        counter = [0]

        def visit(v: str) -> None:
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in self.edges.get(v, ()):
                if w not in self.edges:
                    continue
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for v in list(self.edges):
            if v not in index:
                visit(v)
        return found

    def pulls_heavy(self, module: str, heavy: set[str]) -> bool:
        """Whether importing ``module`` imports one of ``heavy`` at module level, directly or through others."""
        seen, todo = set(), [module]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            if self.external.get(m, set()) & heavy:
                return True
            todo.extend(self.edges.get(m, ()))
        return False


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    base = ".".join(parts)
    return f"{base}.{name}" if name else base


@cache
def import_graph() -> ImportGraph:
    files = dict((m, p) for p, m in module_files())
    graph = ImportGraph(edges={m: set() for m in files})
    for module, path in files.items():
        source = path.read_text(encoding="utf-8")
        _visit(graph, files, module, path, source.splitlines(), ast.parse(source), False)
    return graph


def _visit(graph: ImportGraph, files: dict[str, Path], module: str, path: Path, lines: list[str], node: ast.AST,
           in_function: bool) -> None:
    """Record the imports under ``node`` of ``module`` (read from ``path``) in ``graph``."""
    is_package = path.name == "__init__.py"
    for child in ast.iter_child_nodes(node):
        nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        targets: list[str] = []
        if isinstance(child, ast.ImportFrom):
            base = (_resolve(module, is_package, child.level, child.module) if child.level
                    else child.module or "")
            for alias in child.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in files else base)
        elif isinstance(child, ast.Import):
            targets = [alias.name for alias in child.names]
        for target in targets:
            internal = target == "opensoc" or target.startswith("opensoc.")
            if nested:
                graph.inner.append(InnerImport(str(path.relative_to(REPO)), child.lineno,
                                               lines[child.lineno - 1].strip(), target, target.split(".")[0]))
            elif internal:
                graph.edges[module].add(target)
            elif not isinstance(child, ast.ImportFrom) or not child.level:
                graph.external.setdefault(module, set()).add(target.split(".")[0])
        _visit(graph, files, module, path, lines, child, nested)
