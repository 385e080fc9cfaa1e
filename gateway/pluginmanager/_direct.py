"""Calling a hook's implementations straight when pluggy's general machinery has nothing to add.

A call goes through pluggy's `HookCaller.__call__` (argument check, a copy of the implementation
list) and `_multicall` (wrapper set-up and teardown, exception bookkeeping): a few microseconds a
hook, about a dozen hooks a call. When no implementation of a hook is a wrapper and no tracing or
monitoring is installed, the result is the same as calling each implementation, newest first,
with its arguments by name — collecting the non-None results, or stopping at the first one for a
`firstresult` hook. That is what this does; any other case goes to pluggy. The plan is rebuilt
whenever the hook's implementations change (a plugin registered or unregistered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

_Step = tuple[Callable[..., Any], tuple[str, ...]]


class DirectCalls:
    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._untraced = pm._inner_hookexec  # replaced by enable_tracing / hook call monitoring
        # hook → (its caller, a copy of the caller's implementations the plan was made from,
        # the plan, firstresult). pluggy changes a caller's `_hookimpls` list in place when a
        # plugin is registered or unregistered: compared with the copy on every call.
        self._plans: dict[str, tuple[Any, list[Any], tuple[_Step, ...] | None, bool]] = {}

    def call(self, hook: str, /, **kwargs: Any) -> Any:
        plan = self._plans.get(hook)
        if plan is None or plan[1] != plan[0]._hookimpls:
            caller = getattr(self.pm.hook, hook)
            impls = caller.get_hookimpls()
            plan = self._plans[hook] = (caller, impls, _steps(impls), _firstresult(caller))
        caller, _, steps, firstresult = plan
        if steps is None or self.pm._inner_hookexec is not self._untraced:
            return caller(**kwargs)
        results = []
        for function, argnames in steps:
            result = function(*[kwargs[a] for a in argnames])
            if result is not None:
                if firstresult:
                    return result
                results.append(result)
        return None if firstresult else results


def _steps(impls: list[Any]) -> tuple[_Step, ...] | None:
    if any(i.hookwrapper or i.wrapper or i.kwargnames for i in impls):
        return None
    return tuple((i.function, tuple(i.argnames)) for i in reversed(impls))


def _firstresult(caller: Any) -> bool:
    return bool(caller.spec.opts.get("firstresult", False)) if caller.spec else False
