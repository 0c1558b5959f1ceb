"""The import graph of lkmm/ has no cycle, function-local imports counted,
and the engine reaches no backbone family (nor anything in lkmm.models).

Every ``import`` / ``from ... import`` statement of every module is an edge,
wherever it stands (module level, inside a function, under a condition):
an import that is lazy today is still a dependency. And no function in
lkmm/ is longer than a screen."""
import ast
import pathlib

import lkmm

ROOT = pathlib.Path(lkmm.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob('*.py')}


def _resolve(name: str):
    """The lkmm module that ``import name`` runs last (its own file, or the
    package whose attribute it is)."""
    while name and name not in MODULES:
        name = name.rpartition('.')[0]
    return name or None


def _targets(node, package: str):
    if isinstance(node, ast.Import):
        return [_resolve(a.name) for a in node.names
                if a.name.split('.')[0] == 'lkmm']
    base = node.module or ''
    if node.level:
        parts = package.split('.')
        base = '.'.join(parts[:len(parts) - node.level + 1] +
                        ([base] if base else []))
    if base.split('.')[0] != 'lkmm':
        return []
    # ``from pkg import sub`` depends on the submodule where there is one.
    return [f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES
            else _resolve(base) for a in node.names]


def import_graph():
    """Module -> the lkmm modules its statements import."""
    graph = {}
    for name, path in MODULES.items():
        package = name if path.name == '__init__.py' else \
            name.rpartition('.')[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _targets(node, package) if t)
        edges.discard(name)
        graph[name] = edges
    return graph


def strongly_connected(graph):
    """Tarjan's components with more than one module (the cycles)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()] - seen:
            seen.add(w)
            todo.append(w)
    return seen


def test_graph_sees_local_and_relative_imports():
    graph = import_graph()
    # A function-local import (the converter CLI builds with the registry).
    assert 'lkmm.registry' in graph['lkmm.cli.convert']
    # ``from . import x`` is an edge to the submodule x.
    assert 'lkmm.models.backbones.replknet_checkpoint' in \
        graph['lkmm.models.backbones']


def test_no_import_cycle():
    assert strongly_connected(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert strongly_connected(graph) == [['a', 'b', 'c']]


def test_engine_reaches_no_model_module():
    graph = import_graph()
    found = {f'{m} -> {r}' for m in graph if m.startswith('lkmm.engine')
             for r in reachable(graph, m) if r.startswith('lkmm.models')}
    assert found == set()


#: The longest a function in lkmm/ may be, ``def`` to last line.
MAX_FUNCTION_LINES = 80


def test_no_function_needs_scrolling():
    long = [f'{path.relative_to(ROOT)}:{node.lineno} {node.name} '
            f'({node.end_lineno - node.lineno + 1} lines)'
            for path in MODULES.values()
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []
