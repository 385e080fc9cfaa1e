"""The mitmproxy speed-ups (`gateway.mitm_patches`) answer exactly what mitmproxy's own code answers."""

from __future__ import annotations

import collections.abc
import copy
import inspect
import uuid

import pytest
from mitmproxy import connection, exceptions, hooks, http, options, optmanager
from mitmproxy.coretypes import multidict
from mitmproxy.proxy import context
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import tflow

from gateway import mitm_patches

FIELDS = [
    (b"Host", b"example.com"), (b"Content-Type", b"application/json"),
    (b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"X-Caf\xc3\xa9", b"cr\xe8me"),
    (b"transfer-encoding", b"chunked"), (b"Content-Length", b"12"), (b"x-empty", b""),
]
NAMES = ["host", "HOST", b"content-type", "Set-Cookie", b"SET-COOKIE", "x-café", "X-CAFÉ",
         "transfer-encoding", "content-length", "x-empty", "missing", b"missing", ""]


def original(name: str):
    """mitmproxy's own implementation, as the class hierarchy defines it without the patch."""
    for klass in http.Headers.__mro__[1:]:
        if name in vars(klass):
            return vars(klass)[name]
    raise AssertionError(name)


def test_installed():
    mitm_patches.install()
    assert http.Headers.get is mitm_patches._get
    assert http.Headers.get_all is mitm_patches._values


@pytest.mark.parametrize("name", NAMES)
def test_header_lookups_match_mitmproxy(name):
    mitm_patches.install()
    headers = http.Headers(FIELDS)
    original_get_all = mitm_patches._ORIGINAL_GET_ALL
    assert headers.get_all(name) == original_get_all(headers, name)
    assert headers.get(name) == original("get")(headers, name)
    assert headers.get(name, "fallback") == original("get")(headers, name, "fallback")
    assert (name in headers) == original("__contains__")(headers, name)
    try:
        expected = original("__getitem__")(headers, name)
    except KeyError:
        with pytest.raises(KeyError):
            headers[name]  # noqa: B018 - the look-up is the test
    else:
        assert headers[name] == expected


def test_header_lookups_keep_mitmproxys_errors():
    mitm_patches.install()
    headers = http.Headers(FIELDS)
    for bad in (None, 3):
        with pytest.raises((TypeError, AttributeError)):
            headers.get_all(bad)  # type: ignore[arg-type]
        with pytest.raises((TypeError, AttributeError)):
            headers.get(bad)  # type: ignore[arg-type]


def test_the_originals_are_what_the_patch_replaces():
    """If a mitmproxy upgrade moves these methods, the comparison above would compare nothing."""
    assert original("get") is collections.abc.Mapping.get
    assert original("__getitem__") is multidict._MultiDict.__getitem__
    assert mitm_patches._ORIGINAL_GET_ALL.__qualname__ == "Headers.get_all"
    assert "self.server = connection.Server(" in inspect.getsource(context.Context.__init__)


def test_fork_shares_what_mitmproxy_shares():
    mitm_patches.install()
    ctx = context.Context(tflow.tclient_conn(), options.Options())
    ctx.server = connection.Server(address=("example.com", 443))
    ctx.layers.append(object())  # type: ignore[arg-type]
    child = ctx.fork()
    assert child.client is ctx.client and child.server is ctx.server
    assert child.options is ctx.options
    assert child.layers == ctx.layers and child.layers is not ctx.layers
    assert set(vars(child)) == set(vars(ctx))


def test_hook_args_match_the_dataclass_fields():
    mitm_patches.install()
    flow = tflow.tflow()
    assert HttpRequestHook(flow).args() == [flow]
    assert hooks.UpdateHook([flow]).args() == [[flow]]


def test_option_reads_match_mitmproxy_and_never_share_a_container():
    mitm_patches.install()
    opts = optmanager.OptManager()
    opts.add_option("limit", str | None, None, "unset, immutable")  # type: ignore[arg-type]
    opts.add_option("strategy", str, "lazy", "a default")
    opts.add_option("port", int, 8080, "set later")
    opts.add_option("modes", collections.abc.Sequence[str], ["regular"], "a container")
    opts.update(port=9090, modes=["reverse:http://127.0.0.1:1@8080"])
    for name, expected in (("limit", None), ("strategy", "lazy"), ("port", 9090),
                           ("modes", ["reverse:http://127.0.0.1:1@8080"])):
        assert getattr(opts, name) == expected
    read = opts.modes
    read.append("changed")  # a caller changing what it read changes nothing
    assert opts.modes == ["reverse:http://127.0.0.1:1@8080"]


def test_header_lookups_follow_every_change_to_the_headers():
    """The look-up index is rebuilt whenever the header lines change, however they change."""
    mitm_patches.install()
    headers = http.Headers(FIELDS)
    get_all = mitm_patches._ORIGINAL_GET_ALL
    changes = [
        lambda h: h.__setitem__("Content-Type", "text/plain"),
        lambda h: h.__delitem__("set-cookie"),
        lambda h: h.add("X-New", "1"),
        lambda h: h.insert(0, b"x-new", b"0"),
        lambda h: h.set_all("x-new", ["2", "3"]),
        lambda h: setattr(h, "fields", ((b"Only", b"one"),)),
        lambda h: h.update({"host": "other.example", "X-Extra": "e"}),
        lambda h: h.clear(),
    ]
    for change in changes:
        for name in NAMES + ["x-new", "only", "x-extra"]:
            headers.get(name)  # index the headers as they are
        change(headers)
        for name in NAMES + ["x-new", "only", "x-extra"]:
            assert headers.get_all(name) == get_all(headers, name)
            assert (name in headers) == original("__contains__")(headers, name)


def _read(opts, name):
    """An option read the way mitmproxy's own `__getattr__` answers it."""
    return opts._options[name].current()


def test_option_reads_follow_every_change_and_every_receiver_sees_the_new_value():
    mitm_patches.install()
    opts = optmanager.OptManager()
    seen = []
    opts.add_option("limit", str | None, None, "")  # type: ignore[arg-type]
    opts.add_option("port", int, 8080, "")
    opts.add_option("modes", collections.abc.Sequence[str], ["regular"], "")
    def receiver(updated):
        seen.append((opts.limit, opts.port))

    def subscriber(o, updated):
        seen.append((o.limit, o.port))

    opts.changed.connect(receiver)  # (held weakly: the names keep them)
    opts.subscribe(subscriber, ["limit", "port"])
    changes = [
        lambda: opts.update(limit="32m", port=9090),
        lambda: setattr(opts, "port", 9191),
        lambda: opts.reset(),
        lambda: opts.update(limit="1k"),
    ]
    for change in changes:
        seen.clear()
        change()
        expected = (_read(opts, "limit"), _read(opts, "port"))
        assert (opts.limit, opts.port) == expected
        assert seen and all(s == expected for s in seen)  # receivers after ours: already current
    assert "port" in vars(opts) and "modes" not in vars(opts)  # kept: immutable values only
    def refuse(updated):
        if opts.port == 1:
            raise exceptions.OptionsError("a configure hook refuses port 1")

    opts.changed.connect(refuse)
    with pytest.raises(exceptions.OptionsError):
        opts.update(port=1)  # rolled back, and the change of mind sent to every receiver
    assert opts.port == _read(opts, "port") == 8080
    read = opts.modes
    read.append("changed")
    assert opts.modes == ["regular"]
    assert opts == copy.deepcopy(opts) and copy.deepcopy(opts).port == 8080


def test_flow_ids_are_unique_version_4_uuids():
    mitm_patches.install()
    ids = [tflow.tflow().id for _ in range(600)]  # more than one 4 KiB pool
    assert len(set(ids)) == len(ids)
    for flow_id in ids:
        parsed = uuid.UUID(flow_id)
        assert str(parsed) == flow_id and parsed.version == 4 and parsed.variant == uuid.RFC_4122
