"""The command-line layer is one room: parsers and ``*_main`` live in
lkmm/cli only, every tool script calls one of them, and the layers below
never import the ones above (no circles)."""
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
