"""The shape of the code, read from the source with ``ast`` (nothing is imported):

* no import cycle between modules, counting imports inside functions too (a lazy import is
  a dependency all the same; only ``if TYPE_CHECKING:`` blocks are left out);
* no cycle between packages either (``review`` -> ``preview`` -> ``review``): each
  subpackage of ``atomcast`` and each top-level module is one unit;
* no ``from X import _private`` across modules: a private name is its module's business;
* library code raises only the ``atomcast.errors`` tree, not bare builtins;
* the conditions' stages reach operators only through the operator table.

A known offender is listed below with the reason it is tolerated; the list may only shrink
(an entry that no longer applies fails the test, so that it gets removed).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "atomcast"

#: Known exceptions to the two rules below: none today (an entry that no longer applies
#: fails the test, so the lists only shrink).
KNOWN_MODULE_CYCLES: frozenset[frozenset[str]] = frozenset()
KNOWN_PRIVATE_IMPORTS: frozenset[str] = frozenset()
#: Builtin exceptions still raised by a package (package-level unit, exception): none today.
KNOWN_BUILTIN_RAISES: frozenset[tuple[str, str]] = frozenset()
#: Builtin raises that are right where they are, and why (besides pydantic validators,
#: whose ValueError pydantic turns into a ValidationError that loading reports with the
#: file and line: that is pydantic's protocol).
ALLOWED_BUILTIN_RAISES: Mapping[tuple[str, str, str], str] = {
    # json.loads hooks: the caller in the same module turns them into its own error.
    ("atomcast.cli", "_no_json_constant", "ValueError"): "json.loads hook",
    ("atomcast.http.bodies", "_refuse_constant", "ValueError"): "json.loads hook",
    # A source file shorter than its recorded length is an I/O failure like a failed read:
    # the batch reports every OSError as one `error:` line.
    ("atomcast.batch.placement", "copy_range", "OSError"): "I/O failure",
}
_VALIDATORS = frozenset({"field_validator", "model_validator"})


@dataclass(frozen=True, slots=True)
class Import:
    source: str
    target: str
    #: The imported name, when the target is a module and the name something in it.
    name: str | None
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Mapping[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in MODULES:
                        yield Import(module, alias.name, None, child.lineno)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                if base not in MODULES:
                    continue
                for alias in child.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in MODULES:
                        yield Import(module, submodule, None, child.lineno)
                    else:
                        yield Import(module, base, alias.name, child.lineno)
            stack.append(child)


IMPORTS: list[Import] = [item for module in MODULES for item in _imports_of(module)]


def strongly_connected(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The cycles of ``graph``: its strongly connected components of more than one node
    (or one node importing itself), by Tarjan's algorithm without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(frozenset(component))
    return found


def _unit(module: str) -> str:
    """The package-level unit of a module: ``atomcast.review.diff`` -> ``review``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "atomcast"


def test_the_walk_sees_the_code() -> None:
    # A broken walk would find no cycle anywhere: make sure it sees known edges.
    edges = {(i.source, i.target) for i in IMPORTS}
    assert ("atomcast.project.load", "atomcast.project.atoms") in edges
    assert ("atomcast.preview.app", "atomcast.preview.compare") in edges
    assert ("atomcast.cli", "atomcast.cli_options") in edges
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        frozenset("abc")
    ]
    assert strongly_connected({"a": {"a"}}) == [frozenset("a")]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in IMPORTS:
        if item.target != item.source:
            graph[item.source].add(item.target)
    cycles = set(strongly_connected(graph))
    assert cycles - KNOWN_MODULE_CYCLES == set(), "import cycles between modules"
    assert KNOWN_MODULE_CYCLES - cycles == set(), "fixed: remove from KNOWN_MODULE_CYCLES"


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for item in IMPORTS:
        source, target = _unit(item.source), _unit(item.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
    assert strongly_connected(graph) == [], "packages that depend on each other"


#: Package-level units that must not import each other (lazy imports count too): the two
#: servers share only :mod:`atomcast.http` and :mod:`atomcast.project.watch`, and that shared
#: layer knows neither application.
SEPARATE_UNITS: tuple[tuple[str, str], ...] = (
    ("serve", "preview"),
    ("preview", "serve"),
    ("http", "serve"),
    ("http", "preview"),
    ("project", "serve"),
    ("project", "preview"),
)


@pytest.mark.parametrize(("source", "target"), SEPARATE_UNITS)
def test_unit_does_not_import_unit(source: str, target: str) -> None:
    found = [
        f"{item.source}:{item.line} imports {item.target}"
        for item in IMPORTS
        if _unit(item.source) == source and _unit(item.target) == target
    ]
    assert found == [], f"{source} must not depend on {target}"


def test_no_private_name_imported_across_modules() -> None:
    found = {
        f"{i.source} imports {i.name} from {i.target}"
        for i in IMPORTS
        if i.name is not None
        and i.name.startswith("_")
        and not i.name.startswith("__")
        and i.target != i.source
    }
    assert found - KNOWN_PRIVATE_IMPORTS == set()
    assert KNOWN_PRIVATE_IMPORTS - found == set(), "fixed: remove from KNOWN_PRIVATE_IMPORTS"


_BUILTIN_EXCEPTIONS = frozenset(
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)


def _is_validator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _VALIDATORS:
            return True
    return False


def _builtin_raises(module: str) -> Iterator[tuple[str, str, int]]:
    """(enclosing function, exception name, line) of each ``raise Builtin(...)`` outside
    pydantic validators."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, function = stack.pop()
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if _is_validator(child):
                    continue
                inner = child.name
            if isinstance(child, ast.Raise) and child.exc is not None:
                raised = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                if isinstance(raised, ast.Name) and raised.id in _BUILTIN_EXCEPTIONS:
                    yield function, raised.id, child.lineno
            stack.append((child, inner))


def test_library_raises_only_the_errors_tree() -> None:
    found: set[tuple[str, str]] = set()
    unexpected: list[str] = []
    for module in MODULES:
        for function, name, line in _builtin_raises(module):
            if name == "AssertionError":
                continue  # an unreachable branch, not an error for callers
            if name == "AttributeError" and function == "__getattr__":
                continue  # a module's lazy attributes: the import protocol
            if (module, function, name) in ALLOWED_BUILTIN_RAISES:
                continue
            unit = (_unit(module), name)
            if unit in KNOWN_BUILTIN_RAISES:
                found.add(unit)
                continue
            unexpected.append(f"{module}:{line} ({function}) raises {name}")
    assert unexpected == [], "raise an atomcast.errors class instead"
    assert KNOWN_BUILTIN_RAISES - found == set(), "fixed: remove from KNOWN_BUILTIN_RAISES"


@pytest.mark.parametrize("stage", ["walker", "codegen", "check", "explain", "normalize"])
def test_condition_stages_name_no_operator(stage: str) -> None:
    # What an operator means lives in its entry of conditions/operators.py; a stage that
    # spells "$gte" itself would be a second place to change.
    source = (PACKAGE / "conditions" / f"{stage}.py").read_text(encoding="utf-8")
    strings = [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    named = [s for s in strings if re.fullmatch(r"\$[A-Za-z]+", s)]
    assert named == []


def test_public_api_resolves() -> None:
    import atomcast
    import atomcast.conditions
    import atomcast.project

    for module in (atomcast, atomcast.conditions, atomcast.project):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__
    assert atomcast.load_project is atomcast.project.load_project
