"""Model aliases: requested name → routed name, global or per organization.

An organization's alias beats a global one of the same name. The routed name may itself be an
alias (chains resolve, in the caller's organization at every step, with loop detection); the end
of a chain must be a catalog model or `ollama/<name>`. Writes (shared by the CLI and the admin
site) validate, flush and bump the change counter like `gateway.admin_ops`; every gateway process
then rebuilds its `AliasTable` snapshot, which answers requests with dictionary lookups only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.admin_ops import get_org
from gateway.config import ModelConfig
from gateway.db.engine import bump_revision
from gateway.db.models import Organization
from plugins.routing._models import ModelAlias

log = logging.getLogger("gateway.routing")
MAX_CHAIN = 16
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


class AliasLoop(ValueError):
    pass


@dataclass(frozen=True)
class Resolution:
    target: str  # the end of the chain: a catalog or ollama model (or a name the core resolves)
    chain: tuple[str, ...]  # every name passed, requested first


def in_catalog(name: str, config: ModelConfig) -> bool:
    if name.startswith("ollama/") and len(name) > len("ollama/"):
        return True
    return name in config.models or len(config.by_bare_name.get(name, ())) == 1


def alternate_spelling(name: str, config: ModelConfig) -> str | None:
    """The other way to write a catalog model: `gpt-4o` ⇄ `openai/gpt-4o`."""
    entry = config.models.get(name)
    if entry is not None:
        bare = name.split("/", 1)[1]
        return bare if config.by_bare_name.get(bare) == (name,) else None
    matches = config.by_bare_name.get(name, ())
    return matches[0] if len(matches) == 1 else None


def follow(name: str, scopes: Iterable[Mapping[str, str]],
           config: ModelConfig | None = None) -> Resolution:
    """Follow `name` through the alias mappings in `scopes` (first scope wins at each step; with
    `config`, an alias on the other spelling of a catalog model counts too)."""
    scopes = tuple(scopes)
    chain = [name]
    while True:
        nxt = _step(chain[-1], scopes, config)
        if nxt is None:
            return Resolution(chain[-1], tuple(chain))
        if nxt in chain or len(chain) > MAX_CHAIN:
            raise AliasLoop(f"alias loop: {' → '.join(chain + [nxt])}")
        chain.append(nxt)


def _step(name: str, scopes: tuple[Mapping[str, str], ...],
          config: ModelConfig | None) -> str | None:
    alt = alternate_spelling(name, config) if config is not None else None
    for scope in scopes:
        if name in scope:
            return scope[name]
        if alt is not None and alt in scope:
            return scope[alt]
    return None


class AliasTable:
    """An immutable snapshot of every alias, with every chain resolved ahead of time."""

    def __init__(self, rows: Iterable[tuple[int | None, str, str]], config: ModelConfig,
                 resolve: bool = True) -> None:
        self.config = config
        self.global_: dict[str, str] = {}
        self.by_org: dict[int, dict[str, str]] = {}
        for org_id, requested, routed in rows:
            scope = self.global_ if org_id is None else self.by_org.setdefault(org_id, {})
            scope[requested] = routed
        self._resolved: dict[int | None, dict[str, Resolution]] = {
            org: self._resolve_scope(org) for org in [None, *self.by_org]} if resolve else {}

    def _resolve_scope(self, org_id: int | None) -> dict[str, Resolution]:
        scopes = self.scopes(org_id)
        out = {}
        for name in set().union(*scopes):
            try:
                out[name] = follow(name, scopes, self.config)
            except AliasLoop as exc:  # only a race between two writers gets past validation
                log.error("ignoring alias %r for org %s: %s", name, org_id, exc)
        return out

    def scopes(self, org_id: int | None) -> list[Mapping[str, str]]:
        own = self.by_org.get(org_id, {}) if org_id is not None else {}
        return [own, self.global_] if own else [self.global_]

    def resolve(self, name: str, org_id: int | None) -> Resolution | None:
        table = self._resolved.get(org_id) or self._resolved[None]
        hit = table.get(name)
        if hit is None:
            alt = alternate_spelling(name, self.config)
            hit = table.get(alt) if alt else None
            if hit is not None:  # the chain starts at the name the caller used
                hit = Resolution(hit.target, (name, *hit.chain[1:]))
        return hit

    def visible(self, org_id: int | None) -> dict[str, Resolution]:
        """Every alias a member of `org_id` may use (global ones included), resolved."""
        return dict(self._resolved.get(org_id) or self._resolved[None])


def load_table(session: Session, config: ModelConfig, resolve: bool = True) -> AliasTable:
    rows = session.execute(select(ModelAlias.org_id, ModelAlias.requested, ModelAlias.routed))
    return AliasTable(rows, config, resolve)


# --- admin operations --------------------------------------------------------------------------

def list_aliases(session: Session, org_slug: str | None = None) -> list[ModelAlias]:
    """All aliases, or those of one organization plus the global ones."""
    query = select(ModelAlias).order_by(ModelAlias.org_id.is_not(None), ModelAlias.requested)
    if org_slug is not None:
        org = get_org(session, org_slug)
        query = query.where((ModelAlias.org_id == org.id) | ModelAlias.org_id.is_(None))
    return list(session.scalars(query))


def set_alias(session: Session, requested: str, routed: str, config: ModelConfig, *,
              org_slug: str | None = None) -> tuple[ModelAlias, Resolution]:
    """Create or change an alias; returns it with where it now leads."""
    requested, routed = _name(requested, "requested model"), _name(routed, "routed model")
    if requested.startswith("agent/"):
        raise ValueError(f"invalid requested model {requested!r}: 'agent/' names are agents")
    org = get_org(session, org_slug) if org_slug is not None else None
    row = _find(session, requested, org)
    if row is None:
        row = ModelAlias(requested=requested, routed=routed, org_id=org.id if org else None)
        session.add(row)
    row.routed = routed
    try:
        session.flush()
    except IntegrityError:  # another admin created the same alias since _find
        raise ValueError(f"alias {requested!r} already exists") from None
    resolution = _check_chains(session, requested, org, config)
    bump_revision(session)
    return row, resolution


def delete_alias(session: Session, requested: str, *, org_slug: str | None = None) -> ModelAlias:
    org = get_org(session, org_slug) if org_slug is not None else None
    row = _find(session, requested, org)
    if row is None:
        where = f"organization {org.slug!r}" if org else "global scope"
        raise ValueError(f"no alias {requested!r} in the {where}")
    session.delete(row)
    session.flush()
    bump_revision(session)
    return row


def org_slugs(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    query = select(Organization.id, Organization.slug).where(Organization.id.in_(wanted))
    rows = session.execute(query)
    return {org_id: slug for org_id, slug in rows}


def _name(value: str, what: str) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid {what} {value!r}: 1-200 letters, digits and . _ : / @ + -")
    return name


def _find(session: Session, requested: str, org: Organization | None) -> ModelAlias | None:
    org_clause = ModelAlias.org_id.is_(None) if org is None else ModelAlias.org_id == org.id
    return session.scalar(select(ModelAlias).where(ModelAlias.requested == requested, org_clause))


def _check_chains(session: Session, requested: str, org: Organization | None,
                  config: ModelConfig) -> Resolution:
    """The new alias must lead to a catalog model without a loop in every scope that sees it:
    its own organization, or for a global alias the global scope and every organization."""
    table = load_table(session, config, resolve=False)
    # An organization with its own alias of this name never sees the global one. Organizations
    # first: a loop there is a clearer message than the dangling global chain it also makes.
    org_ids = [org.id] if org is not None else \
        [*(o for o, own in table.by_org.items() if requested not in own), None]
    results = {}
    for org_id in org_ids:
        try:
            results[org_id] = follow(requested, table.scopes(org_id), config)
        except AliasLoop as exc:
            raise ValueError(str(exc)) from None
        if not in_catalog(results[org_id].target, config):
            raise ValueError(f"alias {requested!r} leads to {results[org_id].target!r}, which is "
                             f"not in the model catalog (model_config.yaml models:) nor an "
                             f"ollama/<name> model")
    return results[org_ids[0] if org is not None else None]
