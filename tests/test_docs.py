"""Every hook is documented in README.md with its exact signature and has a test named after it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from gateway import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def hook_signatures() -> dict[str, str]:
    sigs = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("gateway_"):
            continue
        ann = fn.__annotations__
        params = ", ".join(f"{p}: {ann[p]}" for p in inspect.signature(fn).parameters)
        sigs[name] = f"{name}({params}) -> {ann['return']}"
    return sigs


def test_hookspecs_holds_only_hooks_and_each_is_documented():
    sigs = hook_signatures()
    assert len(sigs) >= 10
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if fn.__module__ == hookspecs.__name__:
            assert name.startswith("gateway_"), f"{name} is not a hook"
            assert fn.__doc__ and len(fn.__doc__) > 40, f"{name} needs a docstring"


def test_every_hook_is_in_the_readme_with_its_signature():
    readme = (ROOT / "README.md").read_text()
    missing = [sig for sig in hook_signatures().values() if f"`{sig}`" not in readme]
    assert not missing, "README.md lacks these hook signatures:\n" + "\n".join(missing)


def test_every_hook_has_a_test_named_after_it():
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                names.add(node.name)
    untested = [hook for hook in hook_signatures() if not any(hook in n for n in names)]
    assert not untested, f"hooks without a test named after them: {untested}"
