"""Edits of `roles:` and `agents:` in model_config.yaml for the admin's Agent Configurations page.

Every edit loads the file with ruamel.yaml (round trip: comments and key order survive), changes
the two sections, splices only those sections back into the original text (every other line
stays byte for byte, alignment included, which a whole-document dump would lose), validates the
result exactly as a gateway will load it, and replaces the file atomically. An invalid result
raises `ConfigError` naming the key at fault and leaves the file untouched. Running gateways pick
the new file up within about a second.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gateway.config import parse_config, yaml_problem
from gateway.errors import ConfigError
from plugins.routing._agents import MODES, AgentsConfig, agents_of

SECTIONS = ("roles", "agents")
_AGENT_ORDER = ("id", "name", "role", "overrides", "subagents")


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long lines
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def validate_text(text: str, source: str = "model_config.yaml") -> AgentsConfig:
    """What a gateway would make of this file: the whole of it validated as a gateway loads it
    (the same errors, word for word), then our sections."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({yaml_problem(exc)})") from None
    return agents_of(parse_config(data, source=source))


def edit(path: Path, change: Callable[[CommentedMap], None]) -> AgentsConfig:
    path = Path(path)
    original = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = _yaml().load(original) if original.strip() else None
    doc = doc if doc is not None else CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError("model_config.yaml: the top level must be a mapping")
    starts = {key: doc.lc.key(key)[0] for key in doc} if original.strip() else {}
    before = {key: _plain(doc.get(key)) for key in SECTIONS}
    change(doc)
    changed = [key for key in SECTIONS if _plain(doc.get(key)) != before[key]]
    text = splice(original, doc, starts, changed)
    agents = validate_text(text, path.name)
    if (path.read_text(encoding="utf-8") if path.exists() else "") != original:
        raise ConfigError("model_config.yaml changed while this edit was made; try again")
    _write_atomically(path, text)
    return agents


def _plain(value: Any) -> str:
    return json.dumps(value, default=str)


def splice(original: str, doc: CommentedMap, starts: Mapping[str, int],
           keys: Iterable[str] = SECTIONS) -> str:
    """`original` with the sections `keys` of `doc` put in place of theirs (or appended)."""
    lines = original.splitlines(keepends=True)
    order = sorted(starts.items(), key=lambda kv: kv[1])
    ends = {key: (order[i + 1][1] if i + 1 < len(order) else len(lines))
            for i, (key, _) in enumerate(order)}
    appended = []
    for key in sorted((k for k in keys if k in doc), key=lambda k: -starts.get(k, -1)):
        body = _dump_section(key, doc[key])
        if key not in starts:
            appended.append(body)
            continue
        start, end = starts[key], ends[key]
        tail = end
        while tail > start + 1 and _is_filler(lines[tail - 1]):
            tail -= 1  # comments and blank lines before the next key stay where they are
        lines[start:tail] = [body]
    text = "".join(lines)
    for body in reversed(appended):
        text = (text if not text or text.endswith("\n") else text + "\n") + "\n" + body
    return text


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _dump_section(key: str, value: Any) -> str:
    out = io.StringIO()
    holder = CommentedMap()
    holder[key] = value
    _yaml().dump(holder, out)
    lines = out.getvalue().splitlines(keepends=True)
    while len(lines) > 1 and _is_filler(lines[-1]):
        lines.pop()
    return "".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- the edits ---------------------------------------------------------------------------------

def set_role(path: Path, role: str, models: Mapping[str, str]) -> AgentsConfig:
    """Create or replace a role: a model for every mode."""
    def change(doc: CommentedMap) -> None:
        roles = _mapping(doc, "roles")
        spec = roles.get(role)
        if not isinstance(spec, CommentedMap):
            spec = roles[role] = CommentedMap()
        for mode in MODES:
            if mode in models:
                spec[mode] = models[mode]
    return edit(path, change)


def set_role_model(path: Path, role: str, mode: str, model: str) -> AgentsConfig:
    _mode(mode)
    def change(doc: CommentedMap) -> None:
        roles = _mapping(doc, "roles")
        if not isinstance(roles.get(role), CommentedMap):
            raise ConfigError(f"roles.{role}: no such role")
        roles[role][mode] = model
    return edit(path, change)


def delete_role(path: Path, role: str) -> AgentsConfig:
    def change(doc: CommentedMap) -> None:
        roles = _mapping(doc, "roles")
        if role not in roles:
            raise ConfigError(f"roles.{role}: no such role")
        del roles[role]
    return edit(path, change)


def set_agent(path: Path, key: str, *, name: str | None = None,
              role: str | None = None) -> AgentsConfig:
    """Create or update an agent (`planner`) or a subagent (`planner/researcher`). `role=None`
    keeps an existing agent's role; for a new subagent it means "the parent's role"."""
    def change(doc: CommentedMap) -> None:
        item = _find_agent(doc, key, create=True)
        if name is not None:
            item["name"] = name
        if role is not None:
            item["role"] = role
        _reorder(item)
    return edit(path, change)


def set_override(path: Path, key: str, mode: str, model: str | None) -> AgentsConfig:
    """Set an agent's model for one mode; `None` removes the override (back to the role)."""
    _mode(mode)
    def change(doc: CommentedMap) -> None:
        item = _find_agent(doc, key)
        overrides = item.get("overrides")
        if model is None:
            if isinstance(overrides, dict):
                overrides.pop(mode, None)
                if not overrides:
                    del item["overrides"]
            return
        if not isinstance(overrides, CommentedMap):
            overrides = CommentedMap()
            overrides.fa.set_flow_style()
            item["overrides"] = overrides
        overrides[mode] = model
        _reorder(item)
    return edit(path, change)


def delete_agent(path: Path, key: str) -> AgentsConfig:
    def change(doc: CommentedMap) -> None:
        seq, index = _locate(doc, key)
        if index is None:
            raise ConfigError(f"agents: no agent {key!r}")
        del seq[index]
    return edit(path, change)


def _mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown cost mode {mode!r}: expected one of {', '.join(MODES)}")


def _mapping(doc: CommentedMap, key: str) -> CommentedMap:
    value = doc.get(key)
    if value is None:
        value = doc[key] = CommentedMap()
    if not isinstance(value, CommentedMap):
        raise ConfigError(f"{key}: must be a mapping")
    return value


def _sequence(owner: CommentedMap, key: str, where: str) -> CommentedSeq:
    value = owner.get(key)
    if value is None:
        value = owner[key] = CommentedSeq()
    if not isinstance(value, CommentedSeq):
        raise ConfigError(f"{where}: must be a list")
    value.fa.set_block_style()  # `agents: []` would otherwise grow as one long flow line
    return value


def _locate(doc: CommentedMap, key: str) -> tuple[CommentedSeq, int | None]:
    parent_id, _, child_id = key.partition("/")
    seq = _sequence(doc, "agents", "agents")
    if child_id:
        parent_seq, index = _locate(doc, parent_id)
        if index is None:
            raise ConfigError(f"agents: no agent {parent_id!r} (parent of {key!r})")
        seq = _sequence(parent_seq[index], "subagents", f"agents.{parent_id}.subagents")
    wanted = child_id or parent_id
    for i, item in enumerate(seq):
        if isinstance(item, dict) and item.get("id") == wanted:
            return seq, i
    return seq, None


def _find_agent(doc: CommentedMap, key: str, create: bool = False) -> CommentedMap:
    seq, index = _locate(doc, key)
    if index is not None:
        found: CommentedMap = seq[index]
        return found
    if not create:
        raise ConfigError(f"agents: no agent {key!r}")
    item = CommentedMap()
    item["id"] = key.rpartition("/")[2]
    seq.append(item)
    return item


def _reorder(item: CommentedMap) -> None:
    """Keep the documented key order (id, name, role, overrides, subagents) in edited agents."""
    for key in _AGENT_ORDER:
        if key in item:
            item.move_to_end(key)
