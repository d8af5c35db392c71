"""The typed package: what tools/typecheck.sh relies on, checked without running mypy.

- The installed package ships its type information: py.typed and the stubs of the native
  modules (in CI the package is installed from a wheel, so this checks the wheel's contents).
- The stubs name exactly what the built native module exports: a function added to the
  bindings without a stub entry (or a stub entry left behind) fails here, before mypy would
  call its users' code untyped.
- The allow-list of the type check stays short: every `# type: ignore[code]` in the package
  and every [[tool.mypy.overrides]] entry naming one of our modules counts, the total is at
  most 20 and equals the count pyproject.toml's comment states; no bare `# type: ignore` and
  no `ignore_errors` for our code.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re

import pytest

import embforge
from embforge import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "python", "embforge")
PYPROJECT = os.path.join(ROOT, "pyproject.toml")
MAX_ENTRIES = 20
INSTALLED = os.path.dirname(embforge.__file__)


def _source_files():
    for folder, _, names in os.walk(SOURCE):
        for name in sorted(names):
            if name.endswith((".py", ".pyi")):
                yield os.path.join(folder, name)


def _stub_names(path):
    """{name: set of member names (empty for functions and aliases)} of a stub's top level."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = set()
    return names


def _public(names):
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", ["py.typed", "_core.pyi", "_cuda.pyi"])
def test_installed_package_ships_its_types(name):
    assert os.path.isfile(os.path.join(INSTALLED, name)), (
        f"{name} is missing from the package at {INSTALLED}: the wheel must include it")


def test_core_stub_names_what_the_module_exports():
    stub = _stub_names(os.path.join(SOURCE, "_core.pyi"))
    exported = _public(n for n in dir(_core) if not n.startswith("__"))
    assert sorted(exported - set(stub)) == [], "exported by _core but missing from _core.pyi"
    assert sorted(_public(stub) - exported) == [], (
        "in _core.pyi but not exported by _core (or the built module predates the bindings: "
        "rebuild with tools/dev_build.sh)")
    for name, members in stub.items():
        if not members:
            continue
        real = _public(dir(getattr(_core, name)))
        assert sorted(real - members) == [], f"_core.{name} members missing from the stub"
        assert sorted(_public(members) - real) == [], f"stub members that _core.{name} lacks"


def test_cuda_stub_names_what_the_module_exports():
    stub = _stub_names(os.path.join(SOURCE, "_cuda.pyi"))
    assert {"Launch", "device_count", "word2vec_train_range", "glove_train_range"} <= set(stub)
    if importlib.util.find_spec("embforge._cuda") is None:
        pytest.skip("built without the CUDA module: its stub is only parsed")
    from embforge import _cuda
    exported = _public(n for n in dir(_cuda) if not n.startswith("__"))
    assert sorted(exported - set(stub)) == [], "exported by _cuda but missing from _cuda.pyi"
    assert sorted(_public(stub) - exported) == [], (
        "in _cuda.pyi but not exported by _cuda (or the built module predates the bindings: "
        "rebuild with tools/dev_build.sh)")


def _ignore_comments():
    found, bare = [], []
    for path in _source_files():
        with open(path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                for match in re.finditer(r"type:\s*ignore(\[[^\]]*\])?", line):
                    where = f"{os.path.relpath(path, ROOT)}:{line_no}"
                    (found if match.group(1) else bare).append(where)
    return found, bare


def _our_overrides(config):
    """Module patterns of [[tool.mypy.overrides]] that name embforge's own modules, and
    those among them that set ignore_errors."""
    ours, ignored = [], []
    for block in config.get("tool", {}).get("mypy", {}).get("overrides", []):
        modules = block["module"]
        modules = [modules] if isinstance(modules, str) else modules
        mine = [m for m in modules if m == "embforge" or m.startswith("embforge.")]
        ours += mine
        if mine and block.get("ignore_errors"):
            ignored += mine
    return ours, ignored


def test_type_check_allow_list_stays_short():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as CI
    with open(PYPROJECT, "rb") as f:
        text = f.read()
    config = tomllib.loads(text.decode("utf-8"))
    assert config["tool"]["mypy"]["strict"] is True
    ignores, bare = _ignore_comments()
    assert bare == [], "a bare `# type: ignore` (name the error code) at " + ", ".join(bare)
    overrides, ignored = _our_overrides(config)
    assert ignored == [], f"ignore_errors for our own modules: {ignored}"
    entries = len(ignores) + len(overrides)
    assert entries <= MAX_ENTRIES, (
        f"{entries} allow-list entries (at most {MAX_ENTRIES}): {ignores + overrides}")
    stated = re.search(rb"# Entries now: (\d+)\.", text)
    assert stated is not None, "pyproject.toml's [tool.mypy] comment states the entry count"
    assert int(stated.group(1)) == entries, (
        f"pyproject.toml says {int(stated.group(1))} allow-list entries, there are {entries}: "
        f"{ignores + overrides}")


def test_allow_list_counter_counts(tmp_path):
    # the counters above on a known input: two coded ignores, one bare one, two of our
    # modules in overrides (one of them with ignore_errors), a third-party one not counted
    sample = tmp_path / "m.py"
    sample.write_text("x = 1  # type: ignore[assignment]\ny = 2  # type: ignore\n"
                      "z = 3  # type:ignore[misc, arg-type]\n")
    global SOURCE
    saved, SOURCE = SOURCE, str(tmp_path)
    try:
        found, bare = _ignore_comments()
    finally:
        SOURCE = saved
    assert len(found) == 2 and len(bare) == 1
    ours, ignored = _our_overrides({"tool": {"mypy": {"overrides": [
        {"module": ["embforge.a", "gensim.*"], "disallow_any_generics": False},
        {"module": "embforge.b.*", "ignore_errors": True}]}}})
    assert ours == ["embforge.a", "embforge.b.*"] and ignored == ["embforge.b.*"]
