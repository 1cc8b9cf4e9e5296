"""The component package's layout rules: modules stay small, and no module imports another that imports it back."""

import ast
from pathlib import Path

import pytest
from helpers import ROOT

PACKAGE = ROOT / "components" / "gke_tpu_serving"
MAX_LINES = 400
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, type-only imports (under TYPE_CHECKING) included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gke_tpu_serving"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("gke_tpu_serving"))
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_over_400_lines_says_why(path: Path) -> None:
    if len(path.read_text().splitlines()) <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "400 lines" in docstring, f"{path.name} has more than {MAX_LINES} lines and its docstring does not say why"


def test_no_import_cycles_inside_the_package() -> None:
    # The package's own __init__ re-exports the components; importing it from a submodule is what would be circular,
    # so edges into the top-level package count too.
    graph = {_module_name(path): _imports(path) for path in MODULES}
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in stack:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in done:
                visit(target, [*stack, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert cycles == []
