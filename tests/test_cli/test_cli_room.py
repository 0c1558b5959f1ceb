"""The command-line layer is one room: parsers and ``*_main`` live in
lkmm/cli only, named after their tool (``parse_<tool>_args``,
``<tool>_main -> int``), every tool script exits with one of them, and the
layers below never import the ones above (no circles)."""
import ast
import pathlib

import lkmm

ROOT = pathlib.Path(lkmm.__file__).parent
REPO = ROOT.parent
# Package -> packages it must never import (they sit above it).
BELOW = {
    'ops': ('layers', 'models', 'engine', 'analysis', 'deploy', 'cli'),
    'layers': ('models', 'engine', 'analysis', 'deploy', 'cli'),
    'models': ('engine', 'analysis', 'deploy', 'cli'),
    'engine': ('analysis', 'deploy', 'cli'),
    'analysis': ('deploy', 'cli'),
    'deploy': ('cli', ),
    'utils': ('layers', 'models', 'engine', 'analysis', 'deploy', 'cli'),
}


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the package
                package = path.relative_to(REPO).parent.parts
                base = package[:len(package) - node.level + 1]
                yield '.'.join(base + (node.module, ))
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_parsers_and_mains_live_in_the_cli():
    found = []
    for path in ROOT.rglob('*.py'):
        if path.relative_to(ROOT).parts[0] == 'cli':
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and \
                    node.name.endswith('_main'):
                found.append(f'{path.relative_to(ROOT)}: {node.name}')
            if isinstance(node, ast.Attribute) and \
                    node.attr == 'ArgumentParser':
                found.append(f'{path.relative_to(ROOT)}: ArgumentParser')
    assert found == []


def test_every_tool_calls_one_cli_main():
    for path in (REPO / 'tools').rglob('*.py'):
        if path.parent.name == 'misc':
            continue  # set-up helpers, not lkmm tools
        mains = [m for m in _imports(path) if m.startswith('lkmm.cli.')]
        assert len(mains) == 1, path


def _tool_scripts():
    """``tools/**/X.py``, set-up helpers aside: X names the tool."""
    return [p for p in (REPO / 'tools').rglob('*.py')
            if p.parent.name != 'misc']


def _builds_parser(function):
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == 'ArgumentParser'
               for n in ast.walk(function))


def test_parsers_and_mains_are_named_after_their_tool():
    """A parser is ``parse_<tool>_args``, a main ``<tool>_main`` returning
    the exit status (``-> int``), ``<tool>`` a script's name."""
    tools = {p.stem for p in _tool_scripts()}
    found = []
    for path in sorted((ROOT / 'cli').glob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            where = f'{path.name}: {node.name}'
            if _builds_parser(node) or node.name.startswith('parse_'):
                tool = node.name[len('parse_'):-len('_args')] \
                    if node.name.startswith('parse_') and \
                    node.name.endswith('_args') else None
                if tool not in tools:
                    found.append(f'{where} is not parse_<tool>_args')
            if node.name.endswith('_main'):
                if node.name[:-len('_main')] not in tools:
                    found.append(f'{where} is not <tool>_main')
                if not (isinstance(node.returns, ast.Name)
                        and node.returns.id == 'int'):
                    found.append(f'{where} is not annotated -> int')
    assert found == []


def test_every_tool_exits_with_its_main():
    """``sys.exit(<tool>_main())``: the status reaches the shell."""
    for path in _tool_scripts():
        calls = [ast.unparse(n) for n in ast.walk(ast.parse(
            path.read_text())) if isinstance(n, ast.Call)
            and ast.unparse(n.func) == 'sys.exit']
        assert calls == [f'sys.exit({path.stem}_main())'], path


def test_no_layer_imports_one_above_it():
    found = []
    for package, above in BELOW.items():
        for path in (ROOT / package).rglob('*.py'):
            for module in _imports(path):
                parts = module.split('.')
                if parts[0] == 'lkmm' and len(parts) > 1 and \
                        parts[1] in above:
                    found.append(f'{path.relative_to(ROOT)} -> {module}')
    assert found == []
