"""The layer rule, read from the source: each package imports only from the ones before it,
no module imports itself through a cycle, and imports sit at the top of their module except
the optional heavy libraries, which are imported where they are used (see docs/design.md)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "envscale"

# Each layer may import itself and the layers before it.
LAYERS = [
    {"envscale", "envscale.errors", "envscale.records", "envscale.jsonl"},
    {"envscale.dsl"},
    {"envscale.compiler"},
    {"envscale.runtime"},
    {"envscale.tasks"},
    {"envscale.rollout"},
    {"envscale.jobs"},
    {"envscale.synth"},
    # The doors users come through: MCP, RL trainers, dataset exports, the trajectory viewer.
    {"envscale.mcpserver", "envscale.rl", "envscale.exports", "envscale.viewer"},
    {"envscale.cli", "envscale.api", "envscale.demo", "envscale.__main__"},
]
# Beside the stages: what they may import from envscale besides themselves.
SIDE = {
    "envscale.trainer": {"envscale", "envscale.errors", "envscale.records", "envscale.jsonl"},
    "envscale.conformance": {
        "envscale",
        "envscale.errors",
        "envscale.records",
        "envscale.jsonl",
        "envscale.dsl",
        "envscale.compiler",
        "envscale.runtime",
    },
    "envscale.fuzz": {
        "envscale",
        "envscale.errors",
        "envscale.records",
        "envscale.jsonl",
        "envscale.dsl",
        "envscale.compiler",
        "envscale.runtime",
        "envscale.tasks",
        "envscale.rollout",
        "envscale.jobs",
    },
}
# Imported inside functions, only when a feature that needs them runs.
OPTIONAL_HEAVY = {
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "tqdm",
    "matplotlib",
    "ray",
    "tokenizers",
    "sklearn",
    "scipy",
    "numpy",
    "sentence_transformers",
    "mcp",
    "trl",
    "datasets",
    "gymnasium",
    "openenv",
    "playwright",
}
# `envscale.load` resolves to the façade on first use, so that importing a lower layer
# (as compiled tools do) does not import the layers above it.
LAZY_FACADE = {("envscale", "envscale.api")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    """The layer unit a module belongs to: its package under envscale, or a top-level module."""
    parts = module.split(".")
    if len(parts) == 1:
        return "envscale"
    return ".".join(parts[:2])


def imports(path: Path, module: str) -> list[tuple[str, int, bool, bool]]:
    """(imported module, line, at module level, under `if TYPE_CHECKING`) for each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int, bool, bool]] = []
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, top: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            guarded = typing_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, top, typing_only) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    candidate = f"{base}.{alias.name}"
                    found.append(
                        (
                            candidate if candidate in MODULES else base,
                            child.lineno,
                            top,
                            typing_only,
                        )
                    )
            visit(child, nested, guarded)

    visit(tree, True, False)
    return found


MODULES = modules()


def allowed(source: str, target: str) -> bool:
    src, dst = unit(source), unit(target)
    if src == dst or target == "envscale":
        return True
    if src in SIDE:
        return dst in SIDE[src]
    if dst in SIDE:
        return src in LAYERS[-1]
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    return rank[dst] <= rank[src]


def test_every_package_has_a_place() -> None:
    placed = set().union(*LAYERS) | set(SIDE)
    assert sorted({unit(m) for m in MODULES} - placed) == []


def test_no_import_from_a_later_layer() -> None:
    wrong = []
    for module, path in MODULES.items():
        for target, line, _top, _typing in imports(path, module):
            if (module, target) in LAZY_FACADE:
                continue
            if target.startswith("envscale") and not allowed(module, target):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target}")
    assert "\n".join(wrong) == ""


def heavy_modules() -> set[str]:
    """The project's modules that import an optional heavy library at their top, directly or
    through another such module: importing one of them lazily is importing that library lazily."""
    top_imports = {
        module: {target for target, _line, top, _t in imports(path, module) if top}
        for module, path in MODULES.items()
    }
    heavy = {
        m
        for m, targets in top_imports.items()
        if any(t.split(".")[0] in OPTIONAL_HEAVY for t in targets)
    }
    grew = True
    while grew:
        more = {m for m, targets in top_imports.items() if m not in heavy and targets & heavy}
        heavy |= more
        grew = bool(more)
    return heavy


def test_imports_sit_at_module_level() -> None:
    heavy = heavy_modules()
    wrong = []
    for module, path in MODULES.items():
        for target, line, top, typing_only in imports(path, module):
            root = target.split(".")[0]
            lazy_ok = root in OPTIONAL_HEAVY or target in heavy or (module, target) in LAZY_FACADE
            if top or typing_only or lazy_ok:
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {target} imported inside a function")
    assert "\n".join(wrong) == ""


def test_no_import_cycles() -> None:
    graph = {
        module: {
            target
            for target, _line, top, typing_only in imports(path, module)
            if target in MODULES and top and not typing_only and target != module
        }
        for module, path in MODULES.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert "\n".join(" -> ".join(c) for c in cycles) == ""


@pytest.mark.parametrize("spec", ["clinic", "retail"])
def test_loading_a_compiled_domain_imports_no_code_generator(tmp_path: Path, spec: str) -> None:
    out = tmp_path / spec
    subprocess.run(
        [
            sys.executable,
            "-m",
            "envscale",
            "compile",
            str(ROOT / "specs" / f"{spec}.domain"),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    code = (
        "import json, sys\n"
        "from envscale.runtime.domain import Domain\n"
        f"env = Domain.from_dir({str(out)!r}).environment()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'jinja2' or m == 'lark'"
        " or m.startswith(('envscale.compiler.codegen', 'envscale.tasks', 'envscale.rollout',"
        " 'envscale.jobs', 'envscale.cli', 'envscale.api')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert json.loads(result.stdout) == []
