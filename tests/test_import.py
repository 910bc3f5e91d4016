"""``import phaser`` is light: the public names load on first use."""

import subprocess
import sys

HEAVY = ("numpy", "scipy", "numba", "h5py", "tifffile", "pyfftw", "onnxruntime", "dask",
         "torch", "typer")


def _run(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_phaser_imports_no_heavy_package():
    loaded = _run("import sys, phaser; print(' '.join(m for m in sys.modules "
                  f"if m.split('.')[0] in {HEAVY!r}))")
    assert loaded == ""


def test_the_public_names_load_on_first_use():
    out = _run("import phaser; from phaser import Result, reconstruct, parse_algorithm; "
               "print(phaser.load_data.__name__, phaser.load_result.__name__, "
               "callable(phaser.simulate), Result.__name__, reconstruct.__name__, "
               "str(parse_algorithm('ER**2')), sorted(phaser.__all__) == sorted("
               "n for n in dir(phaser) if n in phaser.__all__))")
    assert out == "load_data load_result True Result reconstruct ER**2 True"
    missing = subprocess.run([sys.executable, "-c", "import phaser; phaser.nothing"],
                             capture_output=True, text=True)
    assert "has no attribute 'nothing'" in missing.stderr


def _imported_modules(package_dir):
    """Every module of the package and the package modules each one imports (at the top or
    inside a function), as ``{name: set of names}``; a package counts as its ``__init__``."""
    import ast
    from pathlib import Path

    root = Path(package_dir).parent
    modules = {}
    for path in Path(package_dir).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)

    def owner(name):  # the module `name` is, or the package or module defining it
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                    base = f"{up}.{base}" if base else up
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                               for a in node.names)
        graph[name] = {owner(t) for t in targets if owner(t)} - {name}
    return graph


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others():
    from pathlib import Path

    import phaser

    graph = _imported_modules(Path(phaser.__file__).parent)
    assert len(graph) > 100 and "phaser.engine.solver" in graph["phaser.engine.run"]
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
