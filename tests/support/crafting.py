"""Build crafted incidents the way an attacker model writes them: plain JSON events with dotted ECS names."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from opensoc.parsing.timestamps import format_timestamp
from opensoc.schema import IncidentParams
from opensoc.world.inventory import INVENTORY

T0 = datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC)


def ts(offset_s: float) -> str:
    return format_timestamp(T0 + timedelta(seconds=offset_s))


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


def proc(t, host, user, name, cmd, *, parent="explorer.exe", executable=None, original=None, source="sysmon", **extra):
    ev = {"event_type": "process_start", "source": source, "timestamp": ts(t), "host": host, "user": user,
          "process.name": name, "process.executable": executable or f"C:\\Windows\\System32\\{name}",
          "process.command_line": cmd, "process.parent.name": parent}
    if source == "sysmon":
        ev["winlog.event_id"] = 1
    if original:
        ev["process.pe.original_file_name"] = original
    return ev | extra


def access(t, host, user, name, executable, target="C:\\Windows\\system32\\lsass.exe", mask="0x1010"):
    return {"event_type": "process_access", "source": "sysmon", "winlog.event_id": 10, "timestamp": ts(t), "host": host,
            "user": user, "process.name": name, "process.executable": executable,
            "winlog.event_data.TargetImage": target, "winlog.event_data.GrantedAccess": mask}


def conn(t, host, dst, dport=443, *, sent=500, recv=500, src=None, sport=51000, state="SF"):
    src = src or INVENTORY.host(host).ip
    return {"event_type": "network_connection", "source": "zeek_conn", "timestamp": ts(t), "host": host,
            "source.ip": src, "source.port": sport, "destination.ip": dst, "destination.port": dport,
            "network.transport": "tcp", "source.bytes": sent, "destination.bytes": recv, "zeek.connection.state": state}


def http(t, host, user, dst, domain, path="/", *, method="GET", sent=0, recv=1000):
    return {"event_type": "http_request", "source": "proxy", "timestamp": ts(t), "host": host, "user": user,
            "source.ip": INVENTORY.host(host).ip, "destination.ip": dst, "url.domain": domain, "url.path": path,
            "http.request.method": method, "http.response.status_code": 200, "source.bytes": sent, "destination.bytes": recv}


def dns(t, host, name, qtype="TXT"):
    return {"event_type": "dns_query", "source": "zeek_dns", "timestamp": ts(t), "host": host,
            "source.ip": INVENTORY.host(host).ip, "destination.ip": "10.30.0.10", "dns.question.name": name,
            "dns.question.type": qtype, "dns.response_code": "NOERROR"}


def auth(t, host, user, src, outcome, logon_type=3):
    windows = INVENTORY.host(host).os_family == "windows"
    ev = {"event_type": "authentication", "source": "windows_security" if windows else "auth", "timestamp": ts(t),
          "host": host, "user": user, "event.outcome": outcome, "source.ip": src}
    if windows:
        ev |= {"winlog.event_id": 4624 if outcome == "success" else 4625, "winlog.logon.type": logon_type}
    return ev


def email(t, to_user, sender, *, attachment=None, link=None, spf="fail", dmarc="fail", host="MAIL01"):
    return {"event_type": "email_received", "source": "email_gateway", "timestamp": ts(t), "host": host, "user": to_user,
            "email.from.address": sender, "email.to.address": f"{to_user}@corp.example.com", "email.subject": "Invoice",
            "email.attachments.file.name": attachment, "url.domain": link, "email.authentication.spf": spf,
            "email.authentication.dmarc": dmarc}


def files(t, host, user, action, count, process, path="C:\\Users\\alice.chen\\Documents\\*", ext=".locked"):
    return {"event_type": "file_activity", "source": "edr", "timestamp": ts(t), "host": host, "user": user,
            "event.action": action, "file.path": path, "file.extension": ext, "file.count": count, "process.name": process}


def group_add(t, actor, member, group, *, event_id=4728, host="DC01", sid=None):
    ev = {"event_type": "group_membership_change", "source": "windows_security", "winlog.event_id": event_id,
          "timestamp": ts(t), "host": host, "user": actor, "group.name": group, "user.target.name": member}
    return ev | ({"group.id": sid} if sid else {})


def reg(t, host, user, path, data, process="svchost.exe"):
    return {"event_type": "registry_set", "source": "sysmon", "winlog.event_id": 13, "timestamp": ts(t), "host": host,
            "user": user, "registry.path": path, "registry.data.strings": data, "process.name": process}


def incident(category: str, label: str, *events: dict) -> IncidentParams:
    evs = [dict(e, **{"log_id": f"C-{i}"}) for i, e in enumerate(events)]
    evs = [{k: v for k, v in e.items() if v is not None} for e in evs]
    return IncidentParams.model_validate({"category": category, "target_label": label, "events": evs, "narrative": ""})
