"""The package's shape: no import cycles, the layer rules, the torch-free modules, and
errors raised only from :mod:`deep_audio.errors`.

The import graph is read from the source with :mod:`ast`, so these tests import nothing
from the package. Every ``import`` counts, at module level and inside functions (a
function-level import still runs, only later), except those under ``if TYPE_CHECKING:``,
which never run. ``from deep_audio.pkg import name`` is an edge to the module that
defines ``name``: the package's ``__init__`` says which, by importing it
(``from deep_audio.pkg.mod import name``) or through the ``_WHERE`` table of names that
it imports on first use.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "deep_audio"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int
    module_level: bool

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT.parent)}:{self.line}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def _imports(tree: ast.Module):
    """Yield ``(node, module_level)`` for every import statement that runs."""
    def visit(node: ast.AST, module_level: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for branch_child in child.orelse:
                    yield from visit(ast.Module(body=[branch_child], type_ignores=[]),
                                     module_level)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, module_level
            inner = module_level and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from visit(child, inner)
    yield from visit(tree, True)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <node.module> import ...`` written in ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _lazy_table(tree: ast.Module) -> tuple[dict[str, str], int]:
    """A package ``__init__``'s ``_WHERE`` table (name -> module it is imported from) and
    its line."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "_WHERE"):
            # Literals and dict.fromkeys only: the table is data, not code.
            table = eval(compile(ast.Expression(node.value), "_WHERE", "eval"),  # noqa: S307
                         {"__builtins__": {}, "dict": dict})
            return table, node.lineno
    return {}, 0


def _exports(modules: dict[str, Path], trees: dict[str, ast.Module]) -> dict[str, dict]:
    """Package -> {name: module defining it}, from each ``__init__``'s imports and table."""
    exports = {}
    for name, path in modules.items():
        if path.name != "__init__.py":
            continue
        table = dict(_lazy_table(trees[name])[0])
        for node in ast.walk(trees[name]):  # TYPE_CHECKING imports name the module too
            if isinstance(node, ast.ImportFrom):
                source = _absolute(name, True, node)
                if source.startswith(PACKAGE):
                    for alias in node.names:
                        table.setdefault(alias.asname or alias.name, source)
        exports[name] = table
    return exports


def import_graph(root: Path = ROOT) -> list[Import]:
    """Every package-internal import in the source under ``root``."""
    modules = module_files(root)
    trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path))
             for name, path in modules.items()}
    exports = _exports(modules, trees)

    def resolve(target: str, name: str | None, seen: frozenset = frozenset()) -> str | None:
        """The module that ``from target import name`` (or ``import target``) runs."""
        if name is not None:
            if f"{target}.{name}" in modules:
                return f"{target}.{name}"
            defined_in = exports.get(target, {}).get(name)
            if defined_in is not None and target not in seen:
                return resolve(defined_in, name, seen | {target})
        while target and target not in modules:  # "import a.b.c" where c is a name
            target = target.rpartition(".")[0]
        return target or None

    edges = []
    for source, tree in trees.items():
        is_package = modules[source].name == "__init__.py"
        found = []
        for node, module_level in _imports(tree):
            if isinstance(node, ast.Import):
                found += [(resolve(alias.name, None), node.lineno, module_level)
                          for alias in node.names if alias.name.startswith(PACKAGE)]
            else:
                base = _absolute(source, is_package, node)
                if base.split(".")[0] == PACKAGE:
                    found += [(resolve(base, alias.name), node.lineno, module_level)
                              for alias in node.names]
        # A lazy table's modules are imported on first use, as by a function-level import.
        table, line = _lazy_table(tree)
        found += [(target, line, False) for target in table.values()]
        edges += [Import(source, target, modules[source], line, module_level)
                  for target, line, module_level in sorted(set(found), key=str)
                  if target is not None and target != source]
    return edges


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of ``graph``, each sorted.

    >>> sorted(strongly_connected_components({"a": {"b"}, "b": {"a", "c"}, "c": set()}))
    [['a', 'b'], ['c']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    nodes = sorted(set(graph) | {n for successors in graph.values() for n in successors})
    for node in nodes:
        if node not in index:
            connect(node)
    return components


def import_cycles(edges: list[Import]) -> list[list[str]]:
    """Each group of modules that import each other, directly or round a loop."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    return sorted(c for c in strongly_connected_components(graph) if len(c) > 1)


def _part_of(module: str, part: str) -> bool:
    return module == part or module.startswith(part + ".")


# The layers, as data: a module in the key may not import any module in the value
# (at module level or inside a function). Each part is a module or a package.
COMMANDS = ("deep_audio.cli", "deep_audio.bin", "deep_audio.__main__")
NETWORKS_AND_UP = ("deep_audio.models", "deep_audio.training", "deep_audio.predict",
                   "deep_audio.export", "deep_audio.viz", *COMMANDS)
MAY_NOT_IMPORT = {
    # The foundations: settings, errors, files, scores, tasks, labelled time spans,
    # features and data know nothing of networks, training, prediction, reports or
    # commands.
    **dict.fromkeys(["deep_audio.io.audio", "deep_audio.io.files", "deep_audio.io.weights",
                     "deep_audio.io.sources", "deep_audio.config", "deep_audio.errors",
                     "deep_audio.metrics", "deep_audio.tasks", "deep_audio.events",
                     "deep_audio.features", "deep_audio.data"], NETWORKS_AND_UP),
    # A model file is read into a network: it knows the networks, nothing above them.
    "deep_audio.io.model_files": ("deep_audio.training", "deep_audio.predict",
                                  "deep_audio.viz", "deep_audio.export", *COMMANDS),
    # Networks do not know how they are trained, run, exported or shown.
    "deep_audio.models": ("deep_audio.training", "deep_audio.predict", "deep_audio.viz",
                          "deep_audio.export", *COMMANDS),
    # The classic path (hand-crafted features, scikit-learn) runs without torch.
    "deep_audio.classic": ("deep_audio.models", "deep_audio.training", "deep_audio.predict",
                           "deep_audio.export", *COMMANDS),
    # Reports render what they are given: they train, build and export nothing.
    "deep_audio.viz": ("deep_audio.models", "deep_audio.training", "deep_audio.export",
                       *COMMANDS),
    # Commands are the top: only they import each other (see the test below).
}
# Modules that must import without torch installed (an ONNX model runs without it).
TORCH_FREE = ("deep_audio.predict.predictor", "deep_audio.predict.onnx",
              "deep_audio.predict.stream", "deep_audio.io.sources")


@pytest.fixture(scope="module")
def edges() -> list[Import]:
    return import_graph()


def test_the_graph_reader_sees_every_kind_of_import(tmp_path):
    """Relative, function-level and lazily re-exported imports make edges; TYPE_CHECKING
    imports do not; a planted cycle is found."""
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "low.py": "from typing import TYPE_CHECKING\n"
                  "if TYPE_CHECKING:\n    from deep_audio.high import H\n"
                  "def f():\n    from .sub import thing\n",
        "high.py": "import deep_audio.low\nfrom deep_audio.sub import Lazy\n",
        "sub/__init__.py": "_WHERE = {**dict.fromkeys(['Lazy'], 'deep_audio.sub.lazy')}\n",
        "sub/thing.py": "from ..sub import lazy\n",
        "sub/lazy.py": "from .. import high\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    found = {(e.source, e.target, e.module_level) for e in import_graph(package)}
    assert found == {
        ("deep_audio.low", "deep_audio.sub.thing", False),
        ("deep_audio.high", "deep_audio.low", True),
        ("deep_audio.high", "deep_audio.sub.lazy", True),
        ("deep_audio.sub", "deep_audio.sub.lazy", False),
        ("deep_audio.sub.thing", "deep_audio.sub.lazy", True),
        ("deep_audio.sub.lazy", "deep_audio.high", True)}
    assert import_cycles(import_graph(package)) == [
        ["deep_audio.high", "deep_audio.low", "deep_audio.sub.lazy", "deep_audio.sub.thing"]]


def test_the_package_has_no_import_cycles(edges):
    cycles = import_cycles(edges)
    report = []
    for members in cycles:
        inside = [e for e in edges if e.source in members and e.target in members]
        report.append(" <-> ".join(members) + "\n" + "\n".join(
            f"    {e.where()}: {e.source} imports {e.target}"
            + ("" if e.module_level else " (in a function)") for e in inside))
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(report)


def test_the_layers_import_only_downwards(edges):
    broken = [f"{e.where()}: {e.source} imports {e.target}"
              for e in edges for part, forbidden in MAY_NOT_IMPORT.items()
              if _part_of(e.source, part) and any(_part_of(e.target, f) for f in forbidden)]
    assert not broken, "imports against the layer rules:\n" + "\n".join(broken)


def test_only_the_commands_import_the_commands(edges):
    broken = [f"{e.where()}: {e.source} imports {e.target}" for e in edges
              if any(_part_of(e.target, c) for c in COMMANDS)
              and not any(_part_of(e.source, c) for c in COMMANDS)]
    assert not broken, "the library imports its commands:\n" + "\n".join(broken)


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_imports_without_torch(module):
    # sys.modules[name] = None makes every "import torch" raise ImportError.
    code = ("import sys\n"
            "for name in ('torch', 'torchaudio'):\n    sys.modules[name] = None\n"
            f"import {module}\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT.parent, timeout=120)
    assert result.returncode == 0, f"{module} needs torch:\n{result.stderr[-2000:]}"


# Exceptions a Python protocol asks for, not a user's mistake: a module's ``__getattr__``
# raises AttributeError, an abstract method NotImplementedError, a ``json`` ``default=``
# hook TypeError, and a command ends with ``raise SystemExit(main())``. An error that an
# enclosing ``try`` of the same function catches never leaves it.
ANYWHERE = {"NotImplementedError", "SystemExit"}


def _error_classes(trees: list[ast.Module]) -> set[str]:
    """DeepAudioError and every class the package derives from it, in any module."""
    names = {"DeepAudioError"}
    classes = [node for tree in trees for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for node in classes:
            if node.name not in names and any(ast.unparse(b) in names for b in node.bases):
                names.add(node.name)
                grew = True
    return names


def _raises(tree: ast.Module):
    """Yield ``(raise or assert node, name of the function it is in, names of the
    exceptions that an enclosing ``try`` of that function catches)``."""
    def caught_by(handler: ast.ExceptHandler) -> set[str]:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        return {ast.unparse(kind).rpartition(".")[2] for kind in kinds if kind is not None}

    def visit(node: ast.AST, function: str, caught: frozenset):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Raise, ast.Assert)):
                yield child, function, caught
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from visit(child, child.name, frozenset())
            elif isinstance(child, ast.Try):
                inside = caught.union(*(caught_by(h) for h in child.handlers))
                for statement in child.body:
                    yield from visit(ast.Module(body=[statement], type_ignores=[]),
                                     function, inside)
                for part in (*child.handlers, *child.orelse, *child.finalbody):
                    yield from visit(ast.Module(body=[part], type_ignores=[]),
                                     function, caught)
            else:
                yield from visit(child, function, caught)
    yield from visit(tree, "", frozenset())


def _json_hooks(tree: ast.Module) -> set[str]:
    return {keyword.value.id for node in ast.walk(tree) if isinstance(node, ast.Call)
            for keyword in node.keywords
            if keyword.arg == "default" and isinstance(keyword.value, ast.Name)}


def raise_problems(root: Path = ROOT) -> list[str]:
    """Each ``assert``, and each ``raise`` of a class outside the deep_audio.errors tree
    that no protocol asks for, as ``path:line: what``."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path))
             for path in module_files(root).values()}
    errors = _error_classes(list(trees.values()))
    problems = []
    for path, tree in trees.items():
        hooks = _json_hooks(tree)
        for node, function, caught in _raises(tree):
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if isinstance(node, ast.Assert):
                problems.append(f"{where}: assert (raise a deep_audio.errors class instead)")
                continue
            if node.exc is None or isinstance(node.exc, ast.Name) and node.exc.id.islower():
                continue  # re-raises what it caught
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = ast.unparse(exc).rpartition(".")[2]
            allowed = (name in errors or name in ANYWHERE or name in caught
                       or name == "AttributeError" and function == "__getattr__"
                       or name == "TypeError" and function in hooks)
            if not allowed:
                problems.append(f"{where}: raises {name} in {function or 'module'}")
    return problems


def test_the_raise_reader_knows_the_protocols(tmp_path):
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "errors.py").write_text("class DeepAudioError(ValueError): ...\n")
    (package / "a.py").write_text(
        "import json\nfrom deep_audio.errors import DeepAudioError\n"
        "class LocalError(DeepAudioError): ...\n"
        "def __getattr__(name):\n    raise AttributeError(name)\n"
        "def hook(value):\n    raise TypeError(value)\n"
        "def dump(x):\n    return json.dumps(x, default=hook)\n"
        "def parse(text):\n    try:\n        raise ValueError\n"
        "    except ValueError:\n        raise LocalError(text) from None\n"
        "def bad(x):\n    assert x\n    raise ValueError(x)\n"
        "def also_bad(x):\n    raise TypeError(x)\n")
    assert raise_problems(package) == [
        "deep_audio/a.py:16: assert (raise a deep_audio.errors class instead)",
        "deep_audio/a.py:17: raises ValueError in bad",
        "deep_audio/a.py:19: raises TypeError in also_bad"]


def test_every_raised_error_is_a_deep_audio_error_and_nothing_asserts():
    problems = raise_problems()
    assert not problems, "errors outside deep_audio.errors:\n" + "\n".join(problems)
