"""Each plugin has one public surface for the admin site and the CLI (`plugins.<name>.admin_api`):
nothing under admin_web/ or gateway/ names a plugin's private module, whether in an import
statement (at the top or inside a function) or in a string that is imported later (the admin's
table of plugin APIs)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.gateway_fixtures import ROOT

PRIVATE = re.compile(r"^plugins\.\w+\._\w+")


def private_names(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if PRIVATE.match(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in [node.module, *names] if PRIVATE.match(n)][:1]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and PRIVATE.match(node.value):
            found.append((node.lineno, node.value))
    return found


def sources() -> list[Path]:
    return [p for top in ("admin_web", "gateway") for p in sorted((ROOT / top).rglob("*.py"))]


def test_the_check_sees_every_form_of_import():
    code = ('import plugins.dlp._models\nfrom plugins.metering._queries import x\n'
            'from plugins.metering import _admin\nAPIS = {"a": ("plugins.fallback._ops", ())}\n'
            'def f():\n    from plugins.routing._agents import MODES\n'
            'from plugins.metering.admin_api import dashboard\nimport plugins.dlp.admin_api\n')
    assert sorted(line for line, _ in private_names(ast.parse(code))) == [1, 2, 3, 4, 6]


def test_no_private_plugin_module_is_named():
    found = {str(path.relative_to(ROOT)): names for path in sources()
             if (names := private_names(ast.parse(path.read_text(encoding="utf-8"), str(path))))}
    assert found == {}, "use the plugin's admin_api instead"
    assert len(sources()) > 50  # the walk found the code
