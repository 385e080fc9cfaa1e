"""Where the admin's data comes from besides the core tables: the plugins' admin APIs, the
gateway settings and model_config.yaml.

A plugin's admin API is its one public module for the admin site and the CLI
(`plugins.<name>.admin_api`); nothing here or in the views imports a plugin's private modules
(tests/admin/test_plugin_imports.py checks it). Each is imported on first use; a plugin that
is not installed (or whose admin API is missing) makes `api(name)` return None and its pages
show a "not available" panel instead of failing.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType
from typing import Any

from flask import current_app

from gateway.config import ModelConfig, load_config
from gateway.settings import Settings

# area → (module, attributes the admin needs from it)
APIS: dict[str, tuple[str, tuple[str, ...]]] = {
    "metering": ("plugins.metering.admin_api",
                 ("live_last_hour", "cost_trend", "dashboard", "DayCache", "top_users",
                  "user_usage", "week_start_day", "ErrorReport")),
    "export": ("plugins.metering.admin_api", ("write_user_csv",)),
    "routing": ("plugins.routing.admin_api",
                ("list_aliases", "set_alias", "delete_alias", "load_agents", "agent_overview",
                 "set_override", "MODES")),
    "fallback": ("plugins.fallback.admin_api",
                 ("set_setting", "get_settings", "set_chain", "delete_chain", "list_chains",
                  "ROUTING_STRATEGY", "ALLOW_PRIVATE")),
    "credentials": ("plugins.fallback.admin_api",
                    ("set_credential", "delete_credential", "list_credentials",
                     "credential_providers", "stored_base_url")),
    "strategies": ("plugins.fallback.admin_api", ("STRATEGIES",)),
    "dlp": ("plugins.dlp.admin_api",
            ("set_enabled", "set_rules", "list_rules", "counters", "last_activity",
             "recent_events", "DlpEvent")),
}


def api(name: str) -> ModuleType | None:
    module_name, needed = APIS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return module if all(hasattr(module, attr) for attr in needed) else None


def gateway_settings() -> Settings:
    settings = current_app.config.get("GATEWAY_SETTINGS")
    if settings is None:
        settings = current_app.config["GATEWAY_SETTINGS"] = Settings.from_env()
    return settings


def master_key() -> bytes:
    return gateway_settings().secret_key()


def config_path():
    return gateway_settings().config_path


class _ConfigCache:
    """model_config.yaml parsed once per change of the file (mtime and size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: Any = None
        self._config: ModelConfig | None = None

    def get(self, path) -> ModelConfig:
        try:
            st = os.stat(path)
            stamp = (str(path), st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (str(path), None, None)
        with self._lock:
            if stamp != self._stamp or self._config is None:
                self._config = load_config(path)
                self._stamp = stamp
            return self._config


_CACHE = _ConfigCache()


def model_config() -> ModelConfig:
    return _CACHE.get(config_path())
