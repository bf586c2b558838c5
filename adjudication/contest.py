"""The independent suspicion check: Sigma rules over the normalised events, and the contest it raises.

``rules/opensoc.yml`` holds Sigma rules written separately from the verdict rules and wider on purpose:
they flag every activity a SOC analyst would want explained (a shell from Office, a tier-0 group change, an
upload over 10 MB, five failed logons from one source, ...). pySigma parses them and its SQLite backend compiles
each detection to SQL once per process; correlation rules (event counts, distinct values, sums) become a GROUP
BY over the whole log window, which plausibility caps at 24 hours. Each crafted incident is loaded into an
in-memory SQLite table, one row per event (and per program a command line runs), and every rule runs over it.

``unexplained_hits`` is the contest: hits whose events are not all covered by a firing verdict or context rule.
When there is one, the verdict on that incident is contested: an independent reading of the same events saw
something the rules neither convicted nor explained, so the incident pays its attacker nothing and is never
replayed. The table's columns are ``COLUMNS``; every value comes from ``normalize.NormalizedEvent``.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from ..parsing.commandline import Invocation, canonical_image
from ..parsing.normalize import (
    NormalizedEvent,
    attachment_type,
    backup_job,
    sanctioned_domain,
    subdomain,
    upload_sanctioned,
)
from ..schema import StrictModel
from ..world.inventory import INVENTORY, is_internal_ip
from .sigmahq import ENV_VAR, SigmaRuleSet, describe, load_rules, rules_path

RULES_PATH = Path(__file__).resolve().parent / "rules" / "opensoc.yml"
log = logging.getLogger("opensoc.adjudication")

COLUMNS: tuple[str, ...] = (
    "log_id", "timestamp", "event_type", "source", "host", "host_role", "host_critical", "user", "it_admin",
    "admin_context", "program", "args", "script", "nested", "parent_image", "image", "image_path", "renamed",
    "target_image", "granted_access", "autostart", "group_tier0", "attachment_type", "auth_failed", "has_content",
    "outbound", "destination_ip", "destination_key", "destination_sanctioned", "destination_upload_sanctioned",
    "destination_internal", "source_ip", "source_internal", "source_bytes", "url_path", "outcome", "logon_type",
    "dns_domain", "dns_subdomain_len", "dns_sanctioned", "question_name", "file_action", "file_count", "backup_job",
)

_SQL_OPERATORS = {
    SigmaCorrelationConditionOperator.GTE: ">=", SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.LTE: "<=", SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.EQ: "=",
}


class SuspicionHit(StrictModel):
    """One independent rule that matched, with the events it matched on: one of OpenSOC's own indicators, or a
    SigmaHQ community rule (then ``author`` names its author(s), as its license asks of any message based on it)."""

    rule_id: str = Field(description="The Sigma rule's id.")
    title: str
    level: str
    log_ids: list[str]
    source: str = Field(default="opensoc", description="opensoc (rules/opensoc.yml) or sigmahq (the community rules).")
    author: str | None = Field(default=None, description="The SigmaHQ rule's author(s).")
    message: str | None = Field(default=None, description="What matched, naming the rule and its author(s).")
    techniques: list[str] = Field(default_factory=list,
                                  description="The ATT&CK techniques the rule's tags name (T1087.002, ...).")


@dataclass(frozen=True)
class SuspicionRule:
    """A compiled Sigma rule: its SQL returns one row per hit, holding the matched row ids joined by commas."""

    rule_id: str
    title: str
    level: str
    tags: tuple[str, ...]
    sql: str


def _where(doc: dict, backend: sqliteBackend) -> str:
    sql = backend.convert(SigmaCollection.from_dicts([doc]))[0]
    head = "SELECT * FROM logs WHERE "
    if not sql.startswith(head):
        raise ValueError(f"unexpected SQL for Sigma rule {doc.get('title')!r}: {sql[:80]}")
    return sql[len(head):]


@lru_cache(maxsize=1)
def suspicion_rules() -> tuple[SuspicionRule, ...]:
    """The rules of ``rules/opensoc.yml``, validated by pySigma and compiled to SQL (once per process)."""
    docs = [d for d in yaml.safe_load_all(RULES_PATH.read_text(encoding="utf-8")) if d]
    collection = SigmaCollection.from_dicts(docs)
    collection.resolve_rule_references()
    backend = sqliteBackend()
    where_by_name = {d["name"]: _where(d, backend) for d in docs if "name" in d and "correlation" not in d}
    compiled = []
    for doc, rule in zip(docs, collection.rules):
        level = str(doc.get("level", "informational"))
        tags = tuple(doc.get("tags", ()))
        if isinstance(rule, SigmaCorrelationRule):
            base = where_by_name[rule.rules[0].reference]
            group = [f"`{g}`" for g in rule.group_by]
            not_null = " AND ".join(f"{g} IS NOT NULL" for g in group) or "1"
            cond = rule.condition
            metric = {SigmaCorrelationType.EVENT_COUNT: "COUNT(*)",
                      SigmaCorrelationType.VALUE_COUNT: f"COUNT(DISTINCT `{cond.fieldref}`)",
                      SigmaCorrelationType.VALUE_SUM: f"SUM(`{cond.fieldref}`)"}[rule.type]
            sql = (f"SELECT group_concat(rowid) FROM logs WHERE ({base}) AND {not_null} GROUP BY {', '.join(group) or '1'} "
                   f"HAVING {metric} {_SQL_OPERATORS[cond.op]} {cond.count}")
        else:
            if level == "informational":
                continue  # a building block for correlations, not an indicator by itself
            sql = f"SELECT CAST(rowid AS TEXT) FROM logs WHERE {_where(doc, backend)}"
        compiled.append(SuspicionRule(str(doc["id"]), str(doc["title"]), level, tags, sql))
    return tuple(compiled)


def _flag(value: bool) -> int:
    return 1 if value else 0


def _event_columns(n: NormalizedEvent) -> dict[str, Any]:
    e = n.event
    host = n.host
    row: dict[str, Any] = {
        "log_id": n.log_id, "timestamp": e.timestamp, "event_type": e.event_type, "source": e.source,
        "host": host.name if host else e.host.lower(), "host_role": host.role if host else None,
        "host_critical": _flag(host is not None and host.critical), "user": n.user,
        "it_admin": _flag(INVENTORY.is_it_admin(n.user)), "admin_context": _flag(n.admin_context),
        "parent_image": n.parent_image, "image": n.image, "image_path": n.image_path,
    }
    if e.event_type == "process_start":
        original = e.process_pe_original_file_name
        shown = e.process_executable or e.process_name
        row["renamed"] = _flag(bool(original and shown) and canonical_image(original) != canonical_image(shown))
    if e.event_type == "process_access":
        row.update(target_image=n.parent_image, granted_access=e.granted_access)
    if e.event_type == "registry_set":
        row["autostart"] = _flag(n.autostart is not None)
    if e.event_type == "group_membership_change":
        row["group_tier0"] = _flag(n.group is not None and n.group.tier0)
    if e.event_type == "email_received":
        row.update(attachment_type=attachment_type(e.attachment_name) or None,
                   auth_failed=_flag(e.spf in ("fail", "softfail") or e.dmarc == "fail"),
                   has_content=_flag(e.attachment_name is not None or e.link_domain is not None))
    if e.event_type in ("network_connection", "http_request"):
        row.update(outbound=_flag(n.outbound), destination_ip=e.destination_ip,
                   destination_key=f"{n.domain or e.destination_ip}" if e.event_type == "http_request"
                   else f"{e.destination_ip}:{e.destination_port}" if is_internal_ip(e.destination_ip) else e.destination_ip,
                   destination_sanctioned=_flag(n.destination_service is not None),
                   destination_upload_sanctioned=_flag(upload_sanctioned(n)),
                   destination_internal=_flag(is_internal_ip(e.destination_ip)), source_ip=e.source_ip,
                   source_internal=_flag(is_internal_ip(e.source_ip)), source_bytes=e.source_bytes,
                   url_path=vars(e).get("url_path"))
    if e.event_type == "authentication":
        row.update(outcome=e.outcome, logon_type=e.logon_type, source_ip=e.source_ip,
                   source_internal=_flag(is_internal_ip(e.source_ip)))
    if e.event_type == "dns_query":
        row.update(dns_domain=n.domain, dns_subdomain_len=len(subdomain(e.question_name)),
                   dns_sanctioned=_flag(sanctioned_domain(n.domain)), question_name=e.question_name.lower(),
                   source_ip=e.source_ip)
    if e.event_type == "file_activity":
        row.update(file_action=e.action, file_count=e.file_count, backup_job=_flag(backup_job(n)))
    return row


def _invocation_rows(n: NormalizedEvent) -> list[tuple[Invocation, int]]:
    parsed = n.command if n.event_type == "process_start" else n.payload
    invocations = parsed.invocations if parsed is not None else ()
    if n.event_type == "process_start" and not invocations and n.image:
        invocations = (Invocation(n.image, ()),)
    offset = 1 if n.event_type == "registry_set" else 0  # an autostart payload runs later: it is never the event's own process
    return [(inv, i + offset) for i, inv in enumerate(invocations)]


def table_rows(events: tuple[NormalizedEvent, ...]) -> list[tuple[str, tuple]]:
    """(log_id, row) pairs: one row per event, one per program a process start or autostart payload runs."""
    rows = []
    for n in events:
        base = _event_columns(n)
        invocations = _invocation_rows(n)
        if n.event_type != "process_start":
            rows.append((n.log_id, tuple(base.get(c) for c in COLUMNS)))
        for inv, nested in invocations:
            row = dict(base, program=inv.program, args=" ".join(inv.args), script=inv.script or None, nested=nested)
            rows.append((n.log_id, tuple(row.get(c) for c in COLUMNS)))
    return rows


def _regexp(pattern: str, value: object) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def suspicion_hits(events: tuple[NormalizedEvent, ...]) -> list[SuspicionHit]:
    """Every suspicion rule hit on ``events``, in rule order; each hit lists the log ids it matched."""
    rows = table_rows(events)
    con = sqlite3.connect(":memory:")
    try:
        con.create_function("REGEXP", 2, _regexp, deterministic=True)
        con.execute(f"CREATE TABLE logs ({', '.join(f'`{c}`' for c in COLUMNS)})")
        con.executemany(f"INSERT INTO logs VALUES ({', '.join('?' * len(COLUMNS))})", [r for _, r in rows])
        hits = []
        for rule in suspicion_rules():
            for (ids,) in con.execute(rule.sql):
                log_ids = sorted({rows[int(i) - 1][0] for i in str(ids).split(",")}, key=[lid for lid, _ in rows].index)
                hits.append(SuspicionHit(rule_id=rule.rule_id, title=rule.title, level=rule.level, log_ids=log_ids))
        return hits
    finally:
        con.close()


def unexplained_hits(events: tuple[NormalizedEvent, ...], covered_log_ids: set[str]) -> list[SuspicionHit]:
    """Hits with an event no firing verdict or context rule covers: the verdict on these events is contested."""
    return [h for h in suspicion_hits(events) if not set(h.log_ids) <= covered_log_ids]


# ------------------------------------------------------------------------------------------------ SigmaHQ


@lru_cache(maxsize=4)
def _community_rules(value: str) -> SigmaRuleSet:
    """The rules of one value of the variable, checked once (a folder of Sigma rules, or an error saying what to set)
    and loaded once."""
    path = rules_path()
    assert path is not None, value
    ruleset = load_rules(path)
    log.info("SigmaHQ community rules: %d high or critical rules loaded from %s in %.1f s (%d left out)",
             ruleset.kept, path, ruleset.load_seconds, sum(ruleset.skipped.values()))
    return ruleset


def community_rules() -> SigmaRuleSet | None:
    """The SigmaHQ rules ``$OPENSOC_SIGMAHQ_RULES`` names (loaded once per process), or None when it names none."""
    if not os.environ.get(ENV_VAR, "").strip():
        if not _warned:
            _warned.append(True)
            log.warning("SigmaHQ community rules are not loaded (set %s to a SigmaHQ rules folder): crafts are "
                        "contested by OpenSOC's own indicators only", ENV_VAR)
        return None
    return _community_rules(os.environ[ENV_VAR])


_warned: list[bool] = []


def community_hits(events: list) -> list[SuspicionHit]:
    """Every high or critical SigmaHQ rule that matches one of ``events`` (schema events), read from their raw
    values; empty when no community rules are loaded."""
    ruleset = community_rules()
    if ruleset is None:
        return []
    return [SuspicionHit(rule_id=h.rule_id, title=h.title, level=h.level, log_ids=list(h.log_ids), source="sigmahq",
                         author=h.author or None, message=describe(h), techniques=attack_techniques(h.tags))
            for h in ruleset.matches(events)]


def attack_techniques(tags: tuple[str, ...] | list[str]) -> list[str]:
    """The ATT&CK technique ids among Sigma ``tags`` (``attack.t1087.002`` -> ``T1087.002``)."""
    return [t.removeprefix("attack.").upper() for t in tags
            if t.lower().startswith("attack.t") and t[8:9].isdigit()]
