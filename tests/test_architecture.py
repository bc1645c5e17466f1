"""The import contract (docs/ARCHITECTURE.md), read from the source: every import, the lazy ones
inside functions too. fusion/ is layered and imports downward only; it never imports gradio, ui or
serve; serve never imports gradio or ui; the tabs never import each other; no cycles; no module
reaches into another's private names; the studies layer runs without torch."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bottom to top: a module may import its own layer and the layers before it
FUSION_LAYERS = ("text", "model", "data", "tagging", "evaluation", "training", "probing", "studies")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # every contract test reads the same files: parse each once
def imports_of(path: Path) -> list[tuple[str, str | None, bool]]:
    """(module, imported name or None, at top level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the contract reads absolute ones"
            for alias in node.names:
                found.append((node.module, alias.name, id(node) in top))
    return found


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for folder in ("fusion", "ui", "serve")
            for p in (ROOT / folder).rglob("*.py")} | {"app": ROOT / "app.py"}


def resolve(target: str, name: str | None, modules: dict[str, Path]) -> str | None:
    """The project module an import lands on (`from fusion.model import checkpoint` too)."""
    if name and f"{target}.{name}" in modules:
        return f"{target}.{name}"
    return target if target in modules else None


def graph(top_level_only: bool = False) -> dict[str, set[str]]:
    modules = project_modules()
    edges = {}
    for module, path in modules.items():
        edges[module] = {found for target, name, top in imports_of(path)
                         if (top or not top_level_only)
                         and (found := resolve(target, name, modules)) and found != module}
    return edges


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return FUSION_LAYERS.index(parts[1]) if parts[0] == "fusion" and len(parts) > 2 else None


def test_fusion_imports_neither_gradio_nor_the_app():
    for module, path in project_modules().items():
        if module.startswith("fusion"):
            bad = [t for t, _, _ in imports_of(path) if t.split(".")[0] in ("gradio", "ui", "serve", "app")]
            assert not bad, f"{module} imports {bad}"


def test_serve_imports_neither_gradio_nor_ui():
    for module, path in project_modules().items():
        if module.startswith("serve"):
            bad = [t for t, _, _ in imports_of(path) if t.split(".")[0] in ("gradio", "ui", "app")]
            assert not bad, f"{module} imports {bad}"


def test_fusion_has_only_its_layers_at_the_top():
    loose = sorted(p.name for p in (ROOT / "fusion").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"modules directly in fusion/: {loose}"
    assert sorted(p.name for p in (ROOT / "fusion").iterdir() if p.is_dir() and p.name != "__pycache__") \
        == sorted(FUSION_LAYERS)


def test_fusion_layers_import_downward_only():
    for module, targets in graph().items():
        here = layer_of(module)
        if here is None:
            continue
        upward = sorted(t for t in targets if (there := layer_of(t)) is not None and there > here)
        assert not upward, f"{module} ({FUSION_LAYERS[here]}) imports a higher layer: {upward}"


def test_tabs_never_import_each_other():
    tabs = {m for m in project_modules() if m.startswith("ui.tabs.") and not m.endswith("__init__")}
    for module, targets in graph().items():
        if module in tabs:
            assert not targets & (tabs - {module}), f"{module} imports {sorted(targets & tabs)}"


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(module, path):
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target] if target in path else [module, target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_no_module_imports_a_private_name():
    modules = project_modules()
    for module, path in modules.items():
        private = [f"{t}.{n}" for t, n, _ in imports_of(path)
                   if n and n.startswith("_") and not n.startswith("__") and resolve(t, None, modules)]
        assert not private, f"{module} imports private names {private}"


def test_the_studies_layer_loads_without_torch():
    """What Results reads (summaries of stored runs) needs no model: importing it pulls no torch."""
    edges = graph(top_level_only=True)
    modules = project_modules()
    for start in (m for m in modules if layer_of(m) == FUSION_LAYERS.index("studies")):
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            heavy = [t for t, _, top in imports_of(modules[module]) if top and t.split(".")[0] == "torch"]
            assert not heavy, f"{start} pulls in torch through {module}"
            todo += edges.get(module, ())


def test_the_contract_catches_an_upward_import(tmp_path):
    """The checks above can fail: an upward import in a made-up module is seen as one."""
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from fusion.studies import results\n")
    assert imports_of(fake) == [("fusion.studies", "results", False)]
    assert layer_of("fusion.studies.results") > layer_of("fusion.model.modeling")


def test_app_py_is_flags_and_main_and_no_ui_or_serve_function_is_long():
    """Each part readable in one screen: app.py ≤ 100 lines, no function of app.py, ui/ or
    serve/ over 60 lines (a long one was where the wiring drifted back into one room)."""
    assert len((ROOT / "app.py").read_text(encoding="utf-8").splitlines()) <= 100
    for module, path in project_modules().items():
        if module.split(".")[0] not in ("app", "ui", "serve"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{module}.{node.name} is {length} lines"
