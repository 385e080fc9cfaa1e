"""Load mitmproxy's addons package without its default addons (a contained patch, mitmproxy 11).

`mitmproxy/addons/__init__.py` imports all 31 default addons so that `default_addons()` can list
them, and `mitmproxy.master` imports that package (for `termlog`): every embedded Master pays for
Flask and Jinja (the onboarding app), ldap3 and passlib (proxy auth), pyperclip, asgiref and more,
about 16 MB of RSS per proxy process that the gateway never runs. Registering the package as a
module that has not run its `__init__` keeps every submodule importable (`from mitmproxy.addons
import core` still works: the package's `__path__` is the real one); only `default_addons()`, used
by mitmproxy's own command-line tools, is missing. Call `skip_default_addons()` before anything
imports `mitmproxy.master`; it does nothing when the package is already loaded.
"""

from __future__ import annotations

import importlib.util
import sys

PACKAGE = "mitmproxy.addons"


def skip_default_addons() -> bool:
    """True when the lean package is (now) in place, False when the full one was loaded first."""
    module = sys.modules.get(PACKAGE)
    if module is not None:
        return not hasattr(module, "default_addons")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not an importable package")
    module = importlib.util.module_from_spec(spec)  # created, never executed
    sys.modules[PACKAGE] = module
    sys.modules["mitmproxy"].addons = module  # type: ignore[attr-defined]
    return True
