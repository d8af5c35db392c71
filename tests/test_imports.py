"""The package's import graph, read from the source with `ast`: no import
loops among embforge's modules and no library module importing the CLI.

Every import statement counts, wherever it is: at the top of a module, inside
a function, a method or an `if`. A loop through a function-level import does
not fail at import time, which is why an import-order test cannot see it, but
it still ties two modules into one. The one exception is the body of an
`if TYPE_CHECKING:` block: it never runs (only type checkers read it, for the
names of annotations), so it ties nothing at run time; its `else:` counts.

How an import becomes an edge (M is the importing module). Importing
embforge.a.b runs the __init__ of embforge.a, then embforge.a.b:
- `import embforge.a.b` -> embforge.a.b, and embforge.a;
- `from .a import name` / `from embforge.a import name` -> embforge.a, and
  embforge.a.name as well when that is a module;
- `from . import x` -> the submodule x when it is a module, else the package
  (x is then a name its __init__ defines);
- `importlib.import_module("embforge.a")` / `__import__("embforge.a")` with a
  constant name: as `import embforge.a`; with a computed name the graph
  cannot be known, which test_imports_are_static reports.
A package that contains M (embforge, and embforge.a for M = embforge.a.b) is
already being imported when M runs, so passing through it on the way to a
submodule is no edge: a package whose __init__ imports its own submodules
would otherwise be "in a loop" with every submodule that imports a sibling.
Taking a name from such a package's __init__ (`from . import NAME`,
`import embforge`) is an edge to it.
"""
from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import os
from collections import deque
from typing import Dict, List, NamedTuple, Tuple

PACKAGE = "embforge"
CLI = ("cli", "__main__")  # embforge.cli, embforge.cli.*, embforge.__main__


class Edge(NamedTuple):
    target: str
    where: str  # "path/to/module.py:line", relative to the package's parent folder


def module_files(root: str, package: str) -> Dict[str, str]:
    """Module name -> file for every module under the package folder `root`:
    .py files and compiled extension modules (a module the graph can point to
    even though it has no source to read)."""
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES + [".py"], key=len, reverse=True)
    modules = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if os.path.exists(os.path.join(folder, d, "__init__.py")))
        rel = os.path.relpath(folder, root)
        prefix = package if rel == "." else f"{package}.{rel.replace(os.sep, '.')}"
        for name in sorted(files):
            suffix = next((s for s in suffixes if name.endswith(s)), None)
            if suffix is None:
                continue
            stem = name[:-len(suffix)]
            modules[prefix if stem == "__init__" else f"{prefix}.{stem}"] = os.path.join(folder, name)
    return modules


def _dynamic_target(call: ast.Call):
    """The module name of an importlib.import_module / __import__ call: a
    string, None when computed, or False when the call is not an import."""
    func = call.func
    if isinstance(func, ast.Name):
        name = func.id
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        name = f"{func.value.id}.{func.attr}"
    else:
        return False
    if name not in ("__import__", "importlib.import_module", "import_module"):
        return False
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        relative = name != "__import__" and call.args[0].value.startswith(".")
        return None if relative else call.args[0].value
    return None


def _is_type_checking_block(node) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def import_graph(modules: Dict[str, str], root_parent: str) -> Tuple[Dict[str, List[Edge]], List[str]]:
    """(each module's edges to modules of the package, imports by a computed
    name as "file:line: source"); `root_parent` is the folder file names in
    the report are relative to."""
    package = min(modules, key=len)
    graph: Dict[str, List[Edge]] = {}
    dynamic: List[str] = []
    for module, path in modules.items():
        graph[module] = []
        if not path.endswith(".py"):
            continue
        is_package = os.path.basename(path) == "__init__.py"
        parts = module.split(".")
        containing = {".".join(parts[:i]) for i in range(1, len(parts) + (1 if is_package else 0))}
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source, filename=path)
        rel = os.path.relpath(path, root_parent)

        def add(target, node, through_only=False):
            """An edge to `target` and to the packages on the way to it that
            do not contain this module (`through_only`: not to target itself
            when it contains this module)."""
            names = target.split(".")
            for i in range(1, len(names) + 1):
                name = ".".join(names[:i])
                last = i == len(names)
                if name in containing and (not last or through_only):
                    continue
                if name != module and (name == package or name.startswith(package + ".")):
                    graph[module].append(Edge(name, f"{rel}:{node.lineno}"))

        type_only = {id(inner) for node in ast.walk(tree) if _is_type_checking_block(node)
                     for statement in node.body for inner in ast.walk(statement)}
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    package_parts = parts if is_package else parts[:-1]
                    if node.level > len(package_parts):
                        raise ValueError(f"{rel}:{node.lineno}: relative import beyond the top package")
                    base_parts = package_parts[:len(package_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module
                submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                # names that are not modules come from base's __init__
                add(base, node, through_only=len(submodules) == len(node.names))
                for target in submodules:
                    add(target, node)
            elif isinstance(node, ast.Call):
                target = _dynamic_target(node)
                if target is None:
                    dynamic.append(f"{rel}:{node.lineno}: {ast.get_source_segment(source, node)}")
                elif target:
                    add(target, node)
    return graph, dynamic


def find_cycles(graph: Dict[str, List[Edge]]) -> List[List[Tuple[str, str]]]:
    """One shortest loop through each edge that closes one, deduplicated; a
    loop is [(module, where it imports the next one), ...], back to its start."""
    cycles, seen = [], set()
    for source in sorted(graph):
        for edge in graph[source]:
            # shortest path from edge.target back to source
            previous = {edge.target: None}
            queue = deque([edge.target])
            while queue and source not in previous:
                node = queue.popleft()
                for nxt in graph.get(node, ()):
                    if nxt.target not in previous:
                        previous[nxt.target] = (node, nxt)
                        queue.append(nxt.target)
            if source not in previous:
                continue
            steps = [(source, edge.where)]
            back, node = [], source
            while previous[node] is not None:
                parent, via = previous[node]
                back.append((parent, via.where))
                node = parent
            steps += reversed(back)
            key = frozenset(m for m, _ in steps)
            if key not in seen:
                seen.add(key)
                cycles.append(steps)
    return cycles


def describe(cycle: List[Tuple[str, str]]) -> str:
    """embforge.a -(a.py:3)-> embforge.b -(b.py:9)-> embforge.a"""
    text = cycle[0][0]
    for i, (_, where) in enumerate(cycle):
        text += f" -({where})-> {cycle[(i + 1) % len(cycle)][0]}"
    return text


def is_cli(module: str, package: str) -> bool:
    return any(module == f"{package}.{c}" or module.startswith(f"{package}.{c}.") for c in CLI)


def cli_imports(graph: Dict[str, List[Edge]], package: str = PACKAGE) -> List[str]:
    return [f"{module} imports {edge.target} at {edge.where}"
            for module, edges in sorted(graph.items()) if not is_cli(module, package)
            for edge in edges if is_cli(edge.target, package)]


def package_graph():
    """The graph of the embforge that the tests import (found without running it)."""
    spec = importlib.util.find_spec(PACKAGE)
    root = list(spec.submodule_search_locations)[0]
    modules = module_files(root, PACKAGE)
    return import_graph(modules, os.path.dirname(root))


# ------------------------------------------------------------------ embforge
def test_no_import_loops():
    graph, _ = package_graph()
    assert len(graph) > 10 and sum(map(len, graph.values())) > 20  # found the modules and imports
    cycles = find_cycles(graph)
    assert not cycles, "import loops (a -(file:line of the import)-> b):\n" + \
        "\n".join(describe(c) for c in cycles)


def test_no_library_module_imports_the_cli():
    graph, _ = package_graph()
    found = cli_imports(graph)
    assert not found, "library modules importing the CLI:\n" + "\n".join(found)


def test_imports_are_static():
    """An import by a computed name is an edge this test cannot see."""
    _, dynamic = package_graph()
    assert not dynamic, "imports by a computed name (import the module by name instead):\n" + \
        "\n".join(dynamic)


# ------------------------------------------------------------------ the checker itself
def write_package(tmp_path, files: Dict[str, str]):
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in [tmp_path / "pkg"] + [p for p in (tmp_path / "pkg").rglob("*") if p.is_dir()]:
        (folder / "__init__.py").touch(exist_ok=True)
    modules = module_files(str(tmp_path / "pkg"), "pkg")
    return import_graph(modules, str(tmp_path))


def targets(graph, module):
    return sorted({e.target for e in graph[module]})


def test_checker_resolves_imports(tmp_path):
    graph, dynamic = write_package(tmp_path, {
        "__init__.py": "from .a import A\nfrom . import b\nVERSION = 1\n",
        "a.py": "import os\nfrom . import b, VERSION\nfrom .sub import thing, inner\n"
                "def f():\n    import pkg.sub.inner as i\n    from .sub.inner import g\n",
        "b.py": "from pkg import a\nimport importlib\n"
                "def h(name):\n    importlib.import_module('pkg.sub')\n    __import__(f'pkg.{name}')\n",
        "sub/__init__.py": "thing = 1\n",
        "sub/inner.py": "from .. import b\nfrom ..a import A\n",
        "sub/other.py": "from pkg.sub import inner\nimport pkg\nimport numpy\n",
        "ext.cpython-311-x86_64-linux-gnu.so": "",
        "ext2.so": "",
        "uses_ext.py": "from . import ext\nfrom . import ext2\n",
    })
    assert targets(graph, "pkg") == ["pkg.a", "pkg.b"]
    assert targets(graph, "pkg.a") == ["pkg", "pkg.b", "pkg.sub", "pkg.sub.inner"]
    assert targets(graph, "pkg.b") == ["pkg.a", "pkg.sub"]
    assert targets(graph, "pkg.sub.inner") == ["pkg.a", "pkg.b"]
    assert targets(graph, "pkg.sub.other") == ["pkg", "pkg.sub.inner"]
    assert targets(graph, "pkg.uses_ext") == ["pkg.ext", "pkg.ext2"]
    assert targets(graph, "pkg.sub") == [] and graph["pkg.ext"] == []
    assert len(dynamic) == 1 and dynamic[0].startswith(os.path.join("pkg", "b.py") + ":5: ")
    assert dynamic[0].endswith("__import__(f'pkg.{name}')")
    assert sorted(e.where for e in graph["pkg.a"] if e.target == "pkg.sub.inner") == \
        [os.path.join("pkg", "a.py") + f":{line}" for line in (3, 5, 6)]


def test_checker_sees_loops_through_functions(tmp_path):
    graph, _ = write_package(tmp_path, {
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from .c import x\n",
        "c.py": "def g():\n    import pkg.a\n",
        "d.py": "from . import e\n",
        "e.py": "class E:\n    def m(self):\n        if True:\n            from .d import D\n",
    })
    cycles = sorted(describe(c) for c in find_cycles(graph))
    p = os.path.join("pkg", "")
    assert cycles == [f"pkg.a -({p}a.py:1)-> pkg.b -({p}b.py:2)-> pkg.c -({p}c.py:2)-> pkg.a",
                      f"pkg.d -({p}d.py:1)-> pkg.e -({p}e.py:4)-> pkg.d"]


def test_checker_skips_type_checking_blocks_only(tmp_path):
    graph, _ = write_package(tmp_path, {
        "a.py": "from . import b\n",
        "b.py": "import typing\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from .a import A\nif typing.TYPE_CHECKING:\n    import pkg.a\n",
        "c.py": "from . import d\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n"
                "else:\n    from .c import C\n",
    })
    cycles = sorted(describe(c) for c in find_cycles(graph))
    p = os.path.join("pkg", "")
    assert cycles == [f"pkg.c -({p}c.py:1)-> pkg.d -({p}d.py:5)-> pkg.c"]


def test_checker_allows_init_importing_submodules_that_import_siblings(tmp_path):
    """A package __init__ importing its submodules is no loop when one of them
    imports a sibling, relatively or absolutely; loops among the submodules,
    or a name taken from an __init__ that imports the taker, are."""
    graph, _ = write_package(tmp_path, {
        "__init__.py": "from .a import A\nfrom .b import B\nfrom .sub import S\n",
        "a.py": "from .b import B\nimport pkg.sub.s\n",
        "b.py": "import os\n",
        "sub/__init__.py": "from .s import S\nfrom .t import T\n",
        "sub/s.py": "from .t import T\nfrom pkg.sub import t\nfrom .. import b\nimport pkg.sub.t\n",
        "sub/t.py": "def f():\n    from pkg import b\n",
    })
    assert targets(graph, "pkg.sub.s") == ["pkg.b", "pkg.sub.t"]
    assert find_cycles(graph) == []
    graph, _ = write_package(tmp_path, {"sub/t.py": "from . import s\n"})
    assert [describe(c).split(" -")[0] for c in find_cycles(graph)] == ["pkg.sub.s"]
    graph, _ = write_package(tmp_path, {"sub/t.py": "from .. import A\n"})  # A: from pkg/__init__
    cycles = find_cycles(graph)
    assert cycles and all({"pkg", "pkg.sub.t"} <= {m for m, _ in c} for c in cycles)


def test_checker_finds_cli_imports(tmp_path):
    graph, _ = write_package(tmp_path, {
        "cli/__init__.py": "from .train import main\n",
        "cli/train.py": "from ..lib import f\n",
        "__main__.py": "from .cli import main\n",
        "lib.py": "def f():\n    from .cli.train import main\n",
    })
    assert [line.replace("pkg.", f"{PACKAGE}.") for line in cli_imports(graph, "pkg")] == [
        f"{PACKAGE}.lib imports {PACKAGE}.cli at {os.path.join('pkg', 'lib.py')}:2",
        f"{PACKAGE}.lib imports {PACKAGE}.cli.train at {os.path.join('pkg', 'lib.py')}:2"]


def test_describe():
    assert describe([("embforge.cli", "cli.py:9"), ("embforge.glove", "glove.py:4")]) == \
        "embforge.cli -(cli.py:9)-> embforge.glove -(glove.py:4)-> embforge.cli"
