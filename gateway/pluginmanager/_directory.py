"""Plugins dropped into a folder (`--plugins-dir`, `GATEWAY_PLUGINS_DIR`).

Every `*.py` file of the folder is imported as a module and registered under the file's stem, in
name order, after the built-ins. All or nothing: the files are imported first, then registered,
then checked; if any step fails for any file, no file of the folder stays registered and
`PluginLoadError` names the file, with the traceback of its own code.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

import pluggy

from gateway.errors import ConfigError

MODULE_PREFIX = "gateway_dir_plugin_"


class PluginLoadError(ConfigError):
    """A plugin file could not be imported, registered or checked; the message names the file."""


def plugin_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"plugins dir {folder}: not a directory")
    return sorted(p for p in folder.glob("*.py") if p.is_file())


def load_plugins_dir(pm: pluggy.PluginManager, folder: Path) -> dict[str, Path]:
    """Register every plugin file of `folder` on `pm`; returns name → file of those registered."""
    modules = [(path, _import(path)) for path in plugin_files(folder)]
    registered: dict[str, Path] = {}
    try:
        for path, module in modules:
            _register(pm, path, module)
            registered[path.stem] = path
        _check(pm, registered)
    except BaseException:
        for name in registered:
            pm.unregister(name=name)
        raise
    return registered


def load_file(path: Path) -> ModuleType:
    """Import one plugin file (a fresh module each time: every gateway gets its own state)."""
    return _import(path.resolve())


def _import(path: Path) -> ModuleType:
    name = MODULE_PREFIX + path.stem.replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"plugin file {path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and type hints look their module up by name
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a file calling sys.exit() is broken too
        sys.modules.pop(name, None)
        raise PluginLoadError(_describe(path, "failed to load", exc)) from exc
    return module


def _register(pm: pluggy.PluginManager, path: Path, module: ModuleType) -> None:
    if pm.has_plugin(path.stem) or pm.is_blocked(path.stem):
        raise PluginLoadError(f"plugin file {path}: a plugin named {path.stem!r} is already "
                              f"loaded; rename the file")
    try:
        pm.register(module, name=path.stem)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise PluginLoadError(_describe(path, "is not a valid plugin", exc, frames=False)) from exc


def _check(pm: pluggy.PluginManager, registered: dict[str, Path]) -> None:
    """`check_pending` names the first hook no spec declares (a misspelled hook name)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or ""
        where = registered.get(name)
        if where is None:
            raise
        raise PluginLoadError(_describe(where, "is not a valid plugin", exc, frames=False)) from exc


def _describe(path: Path, what: str, exc: BaseException, frames: bool = True) -> str:
    """One line naming the file and the error, then the traceback of the plugin's own frames."""
    head = f"plugin file {path} {what}: {type(exc).__name__}: {exc}"
    if not frames:
        return head
    tb = traceback.TracebackException.from_exception(exc)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not f.filename.startswith("<frozen") and f.filename != __file__])
    return head + "\n" + "".join(tb.format()).rstrip()
