"""A static model of a Python package's modules and imports, and the structural rules memkit keeps
(docs/architecture.md), evaluated on it.

Sources are parsed with ``ast`` and never imported, so a check costs a few hundred milliseconds
and cannot be fooled by import-time side effects. What counts as an import:

- ``import a.b`` and ``from a import b`` anywhere in a module: at the top, inside functions
  ("lazy"), under ``try``; relative imports resolved against the importing module's package;
- ``importlib.import_module(...)``/``__import__(...)`` ("dynamic"): a string literal names its
  module, an f-string names every module under its literal prefix, and a variable names the
  modules listed in the module's top-level literal registries (tuples, lists, sets and dict
  values of module names, such as ``HANDLER_MODULES``); a dynamic import none of these resolve
  is reported, so a cycle can never hide behind one;
- imports in the body of ``if TYPE_CHECKING:`` are "type-only": they never execute, so they
  make no cycle and call nothing, but they are still a dependency on what they name.

``from pkg import name`` depends on ``pkg.name`` when that is a module, else on ``pkg``.
Importing a submodule also runs its parents' ``__init__``; those are modules of the model like
any other, with their own imports, and are not added as extra edges of every importer.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

ImportKind = Literal["top", "lazy", "dynamic", "type-only"]

#: attributes of ``os`` that read or change the process environment
ENVIRONMENT_ATTRIBUTES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    path: str
    line: int
    kind: ImportKind

    @property
    def executes(self) -> bool:
        return self.kind != "type-only"

    def describe(self) -> str:
        how = "" if self.kind == "top" else f" ({self.kind})"
        return f"{self.path}:{self.line}  {self.importer} imports {self.imported}{how}"


@dataclass(frozen=True)
class Finding:
    """One violation at one place, for a failure message."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}  {self.text}"


@dataclass
class Module:
    name: str
    path: str  # relative to the source root, for messages
    tree: ast.Module
    line_count: int
    is_package: bool

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @cached_property
    def nodes(self) -> list[ast.AST]:
        return list(ast.walk(self.tree))


@dataclass
class Package:
    """Every module under one top-level package, and the imports among them."""

    root: str
    modules: dict[str, Module]
    edges: list[Edge] = field(default_factory=list)
    unresolved: list[Finding] = field(default_factory=list)

    def in_package(self, name: str) -> bool:
        return name == self.root or name.startswith(self.root + ".")


def load_package(source_root: Path, root: str) -> Package:
    """Parse every module of package ``root`` under ``source_root`` and collect its imports."""
    package_dir = source_root / root
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(source_root)
        parts = list(relative.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        source = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        modules[name] = Module(
            name=name,
            path=relative.as_posix(),
            tree=ast.parse(source, filename=str(path)),
            line_count=len(source.splitlines()),
            is_package=is_package,
        )
    package = Package(root=root, modules=modules)
    for module in modules.values():
        _ImportCollector(package, module).visit(module.tree)
    return package


# ---------------------------------------------------------------- collecting imports


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module" and isinstance(func.value, ast.Name) and func.value.id == "importlib"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _registry_strings(tree: ast.Module) -> list[str]:
    """String literals in the module's top-level literal containers (registries)."""
    found: list[str] = []
    for statement in tree.body:
        value = statement.value if isinstance(statement, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            elements: list[ast.expr | None] = list(value.elts)
        elif isinstance(value, ast.Dict):
            elements = list(value.values)
        else:
            continue
        found += [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: Package, module: Module):
        self.package = package
        self.module = module
        self.function_depth = 0
        self.type_checking_depth = 0

    # -------------------------------------------------------- context

    def _kind(self) -> ImportKind:
        if self.type_checking_depth:
            return "type-only"
        return "lazy" if self.function_depth else "top"

    def _in_function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.type_checking_depth += 1
        for statement in node.body:
            self.visit(statement)
        self.type_checking_depth -= 1
        for statement in node.orelse:
            self.visit(statement)

    # -------------------------------------------------------- edges

    def _add(self, imported: str, line: int, kind: ImportKind | None = None) -> None:
        if not self.package.in_package(imported):
            return
        target = self._existing(imported)
        if target is None or target == self.module.name:
            return
        self.package.edges.append(Edge(self.module.name, target, self.module.path, line, kind or self._kind()))

    def _existing(self, name: str) -> str | None:
        """``name``, or its longest prefix that is a module of the package."""
        while name and name not in self.package.modules:
            name = name.rpartition(".")[0]
        return name or None

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.module.package.split(".")
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, node.module] if node.module else base)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = self._absolute(node)
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in self.package.modules else source, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        if _is_dynamic_import(node) and node.args:
            for name in self._dynamic_targets(node.args[0], node.lineno):
                self._add(name, node.lineno, "type-only" if self.type_checking_depth else "dynamic")
        self.generic_visit(node)

    def _dynamic_targets(self, argument: ast.expr, line: int) -> list[str]:
        modules = self.package.modules
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            if not self.package.in_package(argument.value):
                return []  # another package's module, by name
            targets = [argument.value] if argument.value in modules else []
        elif isinstance(argument, ast.JoinedStr) and (prefix := _fstring_prefix(argument)):
            if not self.package.in_package(prefix):
                return []
            targets = [name for name in modules if name.startswith(prefix)]
        else:
            targets = [name for name in _registry_strings(self.module.tree) if name in modules]
        if not targets:
            self.package.unresolved.append(
                Finding(self.module.path, line, "a dynamic import whose modules cannot be read from the source")
            )
        return targets


def _fstring_prefix(argument: ast.JoinedStr) -> str:
    head = argument.values[0] if argument.values else None
    return head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""


# ---------------------------------------------------------------- cycles


def _strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit on deep graphs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _shortest_cycle(graph: Mapping[str, set[str]], start: str, members: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside ``members`` (BFS)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for successor in sorted(graph.get(node, ())):
            if successor not in members:
                continue
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if successor not in seen:
                seen.add(successor)
                previous[successor] = node
                queue.append(successor)
    return []


def import_cycles(package: Package) -> list[tuple[list[str], list[Edge]]]:
    """Every elementary cycle through each module of a strongly connected group, shortest
    first, each once (rotations removed): ``(module path, the edges that close it)``."""
    graph: dict[str, set[str]] = {name: set() for name in package.modules}
    first_edge: dict[tuple[str, str], Edge] = {}
    for edge in package.edges:
        if edge.executes:
            graph[edge.importer].add(edge.imported)
            first_edge.setdefault((edge.importer, edge.imported), edge)
    cycles: list[tuple[list[str], list[Edge]]] = []
    seen: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        for start in component:
            path = _shortest_cycle(graph, start, members)
            ring = path[:-1]
            rotation = ring.index(min(ring))
            key = tuple(ring[rotation:] + ring[:rotation])
            if key in seen:
                continue
            seen.add(key)
            cycles.append((path, [first_edge[(a, b)] for a, b in zip(path, path[1:])]))
    return cycles


def describe_cycles(cycles: list[tuple[list[str], list[Edge]]]) -> str:
    blocks = [
        "cycle: " + " -> ".join(path) + "\n" + "\n".join(f"  {edge.describe()}" for edge in edges)
        for path, edges in cycles
    ]
    return (
        f"{len(cycles)} import cycle(s) among the library's modules "
        "(lazy and dynamic imports count, TYPE_CHECKING imports do not):\n\n" + "\n\n".join(blocks)
    )


# ---------------------------------------------------------------- the other rules


def environment_reads(
    package: Package,
    *,
    allowed: set[str],
    settings_readers: Mapping[str, set[str]],
    may_read_settings: Iterable[str] = (),
) -> list[Finding]:
    """Reads of the process environment outside ``allowed`` modules: ``os.environ``/``os.getenv``
    and friends (under any alias, or imported by name), and, outside ``may_read_settings`` too,
    calls that make a settings module read it for the caller: a function ``settings_readers``
    names for that module (module -> names) called without arguments by a module importing it."""
    findings: set[Finding] = set()
    imports_by_module: dict[str, set[str]] = {}
    for edge in package.edges:
        imports_by_module.setdefault(edge.importer, set()).add(edge.imported)
    for module in package.modules.values():
        if module.name in allowed:
            continue
        imported = imports_by_module.get(module.name, set())
        readers = {
            name
            for reader, names in settings_readers.items()
            if reader in imported and module.name not in set(may_read_settings)
            for name in names
        }
        os_names: set[str] = set()
        for node in module.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "os" or (alias.name.startswith("os.") and alias.asname is None):
                        os_names.add(alias.asname or "os")
            elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
                for alias in node.names:
                    if alias.name in ENVIRONMENT_ATTRIBUTES:
                        findings.add(Finding(module.path, node.lineno, f"imports os.{alias.name}"))
        for node in module.nodes:
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ENVIRONMENT_ATTRIBUTES
                and isinstance(node.value, ast.Name)
                and node.value.id in os_names
            ):
                findings.add(Finding(module.path, node.lineno, f"reads os.{node.attr}"))
            elif isinstance(node, ast.Call) and not node.args and not node.keywords:
                name = _called_name(node)
                if name in readers:
                    findings.add(Finding(module.path, node.lineno, f"reads the environment through {name}()"))
    return sorted(findings, key=lambda f: (f.path, f.line))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def imports_into(package: Package, target: str, *, allowed: Iterable[str] = ()) -> list[Finding]:
    """Imports (type-only ones included: they are still a dependency) of ``target`` or anything
    under it from modules outside it and outside ``allowed``."""
    inside = lambda name: name == target or name.startswith(target + ".")  # noqa: E731
    exempt = set(allowed)
    return [
        Finding(edge.path, edge.line, f"{edge.importer} imports {edge.imported}" + ("" if edge.kind == "top" else f" ({edge.kind})"))
        for edge in package.edges
        if inside(edge.imported) and not inside(edge.importer) and edge.importer not in exempt
    ]


def long_modules(package: Package, limit: int) -> list[Finding]:
    return [
        Finding(module.path, 1, f"{module.line_count} lines (limit {limit})")
        for module in sorted(package.modules.values(), key=lambda m: -m.line_count)
        if module.line_count > limit
    ]


def factory_imports(package: Package, *, allowed: set[str]) -> list[Finding]:
    """Executing imports of a ``factory`` module (``<pkg>.factory``) from outside ``allowed``:
    whoever imports a factory can build adapters with it."""
    return [
        Finding(edge.path, edge.line, f"{edge.importer} imports {edge.imported}" + ("" if edge.kind == "top" else f" ({edge.kind})"))
        for edge in package.edges
        if edge.executes and edge.imported.rpartition(".")[2] == "factory" and edge.importer not in allowed
    ]


def report(findings: list[Finding], what: str) -> str:
    return f"{len(findings)} {what}:\n" + "\n".join(f"  {finding}" for finding in findings)
