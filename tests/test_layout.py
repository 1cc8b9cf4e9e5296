"""The code's layout: imports point one way (no cycles, type-only imports included), modules imported from outside
their package have public names, and modules stay short enough to read."""

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ROOT

SOURCE_ROOTS = {"gke_tpu_serving": ROOT / "components", "stacks": ROOT}
MAX_LINES = 400
LONG_MODULE_REASON = "Longer than 400 lines because"
"""A module over MAX_LINES says why in its docstring, starting with these words."""


def _modules() -> dict[str, Path]:
    """Every module of the component package and of stacks/, by dotted name."""
    modules = {}
    for package, root in SOURCE_ROOTS.items():
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules that module `name` imports, anywhere in it (under TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import module` imports the module; `from module import name` the module itself.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        yield from (target for target in targets if target in MODULES)


GRAPH = {name: set(_imports(name, path)) - {name} for name, path in MODULES.items()}


def test_the_layout_is_found() -> None:
    assert {"gke_tpu_serving.cluster.plan", "stacks.config", "stacks.scenarios.llama"} <= set(MODULES)
    assert "gke_tpu_serving.errors" in GRAPH["gke_tpu_serving.cluster.plan"]


def test_no_import_cycles() -> None:
    try:
        graphlib.TopologicalSorter(GRAPH).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_cycle_check_finds_a_cycle() -> None:
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({**GRAPH, "gke_tpu_serving.errors": {"stacks.config"}}).prepare()


def test_the_component_package_never_imports_the_program() -> None:
    for name, imported in GRAPH.items():
        if name.startswith("gke_tpu_serving"):
            assert not {i for i in imported if i.startswith("stacks")}, name


def test_modules_imported_from_outside_their_package_have_public_names() -> None:
    for name, imported in GRAPH.items():
        for target in imported:
            private = [part for part in target.split(".") if part.startswith("_") and part != "__main__"]
            if private:
                assert target.rpartition(".")[0] == name.rpartition(".")[0], f"{name} imports {target}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short_or_say_why(name: str) -> None:
    path = MODULES[name]
    lines = len(path.read_text().splitlines())
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert LONG_MODULE_REASON in docstring, f"{path.relative_to(ROOT)} has {lines} lines"
