"""OpenSOC's wire data model: events, incidents, alerts and the two roles' actions.

Every model is strict pydantic v2: unknown fields are rejected, types are not coerced
("443" is not a port), and every string and list has an upper bound, so a request can
never make the service allocate without limit. Event fields use the flattened dotted
names analysts know from ECS and Winlogbeat (``process.command_line``, ``source.ip``,
``winlog.event_id``), and only those names are accepted on input.

The events a defender sees are the very ``Event`` objects an attacker crafts, so any
generated incident can be replayed as a ``craft_incident`` action.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal, Union, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# --------------------------------------------------------------------------- vocabularies

TriageAction = Literal["dismiss", "monitor", "quarantine_host", "block_ip", "escalate"]
TRIAGE_ACTIONS: tuple[TriageAction, ...] = get_args(TriageAction)

MaliciousCategory = Literal[
    "malware_execution",
    "c2_beacon",
    "data_exfiltration",
    "phishing",
    "brute_force",
    "lateral_movement",
    "privilege_escalation",
    "ransomware",
    "credential_access",
    "port_scan",
    "discovery",
]
BenignCategory = Literal[
    "admin_remote_tooling",
    "software_update",
    "scheduled_backup",
    "password_typo",
    "vulnerability_scan",
    "telemetry_heartbeat",
]
Category = Literal[MaliciousCategory, BenignCategory]
MALICIOUS_CATEGORIES: tuple[str, ...] = get_args(MaliciousCategory)
BENIGN_CATEGORIES: tuple[str, ...] = get_args(BenignCategory)
CATEGORIES: tuple[str, ...] = MALICIOUS_CATEGORIES + BENIGN_CATEGORIES

# The attacker's claim about its own incident: coarse (benign or malicious) or the exact triage action it expects
# the verifier to give. It is compared with the verdict; a craft whose claim is wrong earns nothing.
TargetLabel = Literal["benign", "malicious", "dismiss", "monitor", "quarantine_host", "block_ip", "escalate"]
TARGET_LABELS: tuple[str, ...] = get_args(TargetLabel)

EventType = Literal[
    "process_start",
    "process_access",
    "network_connection",
    "dns_query",
    "http_request",
    "email_received",
    "authentication",
    "file_activity",
    "group_membership_change",
    "registry_set",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

# ------------------------------------------------------------------------ bounded scalars

MAX_EVENTS = 64
MAX_NARRATIVE = 4000
MAX_RATIONALE = 2000

Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(max_length=256)]
LongText = Annotated[str, StringConstraints(max_length=1024)]
LogId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Port = Annotated[int, Field(ge=0, le=65535)]
ByteCount = Annotated[int, Field(ge=0, le=10**13)]


def _check_timestamp(value: str) -> str:
    # The pattern fixes the shape; building the datetime rejects impossible dates such as month 13.
    datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), int(value[14:16]), int(value[17:19]))
    return value


@lru_cache(maxsize=1 << 16)
def _canonical_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _check_ip(value: str) -> str:
    canonical = _canonical_ip(value)
    if canonical is None:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address")
    if canonical != value:
        raise ValueError(f"{value!r} is not in canonical form; expected {canonical!r}")
    return value


Timestamp = Annotated[
    str,
    # [0-9], not \d: pydantic's regex engine reads \d as any Unicode digit ("２０２６"), which datetime refuses.
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"),
    AfterValidator(_check_timestamp),
]
IPAddress = Annotated[str, StringConstraints(max_length=45), AfterValidator(_check_ip)]


class StrictModel(BaseModel):
    """Base for every OpenSOC model: closed, uncoerced, serialised by its dotted names."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        frozen=True,
    )


# -------------------------------------------------------------------------------- events


class _EventBase(StrictModel):
    log_id: LogId = Field(description="Identifier unique within the incident, cited by the defender, e.g. 'L1-0'.")
    timestamp: Timestamp = Field(description="UTC time in ISO-8601 with a trailing 'Z', e.g. '2026-03-02T09:15:00Z'.")
    host: Name = Field(description="Inventory host name on which the event was observed.")
    user: Name | None = Field(default=None, description="Account the event is attributed to, if any.")


class ProcessStart(_EventBase):
    """A process was created (Sysmon 1, Windows Security 4688, or an EDR record)."""

    event_type: Literal["process_start"]
    source: Literal["sysmon", "windows_security", "edr"]
    winlog_event_id: Literal[1, 4688] | None = Field(default=None, alias="winlog.event_id")
    process_name: Name | None = Field(default=None, alias="process.name", description="Image file name, e.g. powershell.exe.")
    process_executable: ShortText | None = Field(default=None, alias="process.executable", description="Full image path.")
    process_command_line: LongText | None = Field(default=None, alias="process.command_line")
    process_parent_name: Name | None = Field(default=None, alias="process.parent.name")
    process_pe_original_file_name: Name | None = Field(
        default=None, alias="process.pe.original_file_name", description="PE header name (Sysmon OriginalFileName)."
    )
    process_hash_sha256: Sha256 | None = Field(default=None, alias="process.hash.sha256")


class ProcessAccess(_EventBase):
    """One process opened another's memory (Sysmon 10)."""

    event_type: Literal["process_access"]
    source: Literal["sysmon", "edr"]
    winlog_event_id: Literal[10] | None = Field(default=None, alias="winlog.event_id")
    process_name: Name | None = Field(default=None, alias="process.name", description="Accessing process image name.")
    process_executable: ShortText | None = Field(default=None, alias="process.executable")
    target_image: ShortText = Field(alias="winlog.event_data.TargetImage", description="Path of the accessed process.")
    granted_access: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{1,8}$")] = Field(
        alias="winlog.event_data.GrantedAccess", description="Access mask, e.g. '0x1010'."
    )


ConnState = Literal["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"]


class NetworkConnection(_EventBase):
    """A network flow (Zeek conn.log, Sysmon 3 or a firewall record)."""

    event_type: Literal["network_connection"]
    source: Literal["zeek_conn", "sysmon", "firewall"]
    source_ip: IPAddress = Field(alias="source.ip")
    source_port: Port = Field(alias="source.port")
    destination_ip: IPAddress = Field(alias="destination.ip")
    destination_port: Port = Field(alias="destination.port")
    network_transport: Literal["tcp", "udp", "icmp"] = Field(alias="network.transport")
    network_protocol: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, alias="network.protocol", description="Application protocol Zeek identified, e.g. 'ssl'."
    )
    event_duration: Annotated[float, Field(ge=0, le=86400.0)] | None = Field(
        default=None, alias="event.duration", description="Flow duration in seconds."
    )
    source_bytes: ByteCount = Field(default=0, alias="source.bytes", description="Bytes sent by the originator.")
    destination_bytes: ByteCount = Field(default=0, alias="destination.bytes", description="Bytes sent by the responder.")
    conn_state: ConnState | None = Field(default=None, alias="zeek.connection.state")
    process_name: Name | None = Field(default=None, alias="process.name")


class DnsQuery(_EventBase):
    """A DNS lookup (Zeek dns.log or Sysmon 22)."""

    event_type: Literal["dns_query"]
    source: Literal["zeek_dns", "sysmon"]
    source_ip: IPAddress = Field(alias="source.ip")
    destination_ip: IPAddress = Field(alias="destination.ip", description="Resolver address.")
    question_name: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(alias="dns.question.name")
    question_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SRV"] = Field(alias="dns.question.type")
    response_code: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = Field(alias="dns.response_code")


class HttpRequest(_EventBase):
    """A web request seen by the forward proxy."""

    event_type: Literal["http_request"]
    source: Literal["proxy"]
    source_ip: IPAddress = Field(alias="source.ip")
    destination_ip: IPAddress = Field(alias="destination.ip")
    url_domain: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(alias="url.domain")
    url_path: LongText = Field(default="/", alias="url.path")
    method: Literal["GET", "POST", "PUT", "HEAD", "CONNECT", "OPTIONS", "DELETE", "PATCH"] = Field(
        alias="http.request.method"
    )
    status_code: Annotated[int, Field(ge=100, le=599)] = Field(alias="http.response.status_code")
    source_bytes: ByteCount = Field(default=0, alias="source.bytes")
    destination_bytes: ByteCount = Field(default=0, alias="destination.bytes")
    user_agent: ShortText | None = Field(default=None, alias="user_agent.original")


AuthResult = Literal["pass", "fail", "softfail", "none"]


class EmailReceived(_EventBase):
    """A message accepted by the email gateway for an internal mailbox."""

    event_type: Literal["email_received"]
    source: Literal["email_gateway"]
    from_address: Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] = Field(
        alias="email.from.address"
    )
    to_address: Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] = Field(
        alias="email.to.address"
    )
    subject: ShortText = Field(alias="email.subject")
    attachment_name: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, alias="email.attachments.file.name"
    )
    link_domain: Annotated[str, StringConstraints(max_length=253)] | None = Field(
        default=None, alias="url.domain", description="Domain of the first link in the body, if any."
    )
    spf: AuthResult = Field(alias="email.authentication.spf")
    dmarc: AuthResult = Field(alias="email.authentication.dmarc")


class Authentication(_EventBase):
    """A logon attempt (Windows Security 4624/4625 or an auth-service record); ``user`` is the target account."""

    event_type: Literal["authentication"]
    source: Literal["windows_security", "auth"]
    winlog_event_id: Literal[4624, 4625] | None = Field(default=None, alias="winlog.event_id")
    outcome: Literal["success", "failure"] = Field(alias="event.outcome")
    logon_type: Literal[2, 3, 4, 5, 7, 8, 9, 10, 11] | None = Field(default=None, alias="winlog.logon.type")
    source_ip: IPAddress = Field(alias="source.ip")


class FileActivity(_EventBase):
    """File-system activity; EDRs roll up bursts, so ``file.count`` says how many files one record covers."""

    event_type: Literal["file_activity"]
    source: Literal["sysmon", "edr"]
    winlog_event_id: Literal[11, 23] | None = Field(default=None, alias="winlog.event_id")
    action: Literal["creation", "modification", "rename", "deletion"] = Field(alias="event.action")
    file_path: ShortText = Field(alias="file.path")
    file_extension: Annotated[str, StringConstraints(max_length=16)] | None = Field(default=None, alias="file.extension")
    file_count: Annotated[int, Field(ge=1, le=10**6)] = Field(default=1, alias="file.count")
    process_name: Name | None = Field(default=None, alias="process.name")


class GroupMembershipChange(_EventBase):
    """A member was added to a security group (Windows 4728/4732/4756); ``user`` is the actor."""

    event_type: Literal["group_membership_change"]
    source: Literal["windows_security"]
    winlog_event_id: Literal[4728, 4732, 4756] | None = Field(default=None, alias="winlog.event_id")
    group_name: Name = Field(alias="group.name", description="Group name as logged, e.g. 'CORP\\Domain Admins'.")
    group_id: Annotated[str, StringConstraints(pattern=r"^S-1-5-[0-9]{1,3}(-[0-9]{1,10}){1,5}$")] | None = Field(
        default=None, alias="group.id", description="The group's SID, e.g. 'S-1-5-32-544'."
    )
    member: Name = Field(alias="user.target.name", description="Account that was added to the group.")


class RegistrySet(_EventBase):
    """A registry value was written (Sysmon 13)."""

    event_type: Literal["registry_set"]
    source: Literal["sysmon", "edr"]
    winlog_event_id: Literal[13] | None = Field(default=None, alias="winlog.event_id")
    registry_path: ShortText = Field(alias="registry.path")
    registry_data: ShortText = Field(alias="registry.data.strings")
    process_name: Name | None = Field(default=None, alias="process.name")


Event = Annotated[
    Union[
        ProcessStart,
        ProcessAccess,
        NetworkConnection,
        DnsQuery,
        HttpRequest,
        EmailReceived,
        Authentication,
        FileActivity,
        GroupMembershipChange,
        RegistrySet,
    ],
    Field(discriminator="event_type"),
]

# ------------------------------------------------------------------------------ incident


class IncidentParams(StrictModel):
    """A security incident as an attacker crafts it (and as the generator produces it).

    Only ``events`` is evidence. ``category`` declares what the events are meant to show
    and is checked against the events by the plausibility gate; ``target_label`` is the
    attacker's claim about the verdict, compared with it after the fact; ``narrative`` is
    free text. None of the three is read by the verdict or shown to the defender.
    """

    category: Category = Field(description="What the events depict, from the closed category vocabulary.")
    target_label: TargetLabel = Field(
        description="The attacker's claim: benign or malicious, or the exact triage action it expects. Never shown to "
        "the defender and never read by the verdict; a claim the verdict contradicts earns the attacker nothing."
    )
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS, description="The log window, 1 to 64 events.")
    narrative: Annotated[str, StringConstraints(max_length=MAX_NARRATIVE)] = Field(
        default="", description="Free-text story; never used for scoring, never shown to the defender."
    )


# --------------------------------------------------------------------------------- alert

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


class HostEntity(StrictModel):
    name: Name
    ip: IPAddress | None = None
    role: Name | None = Field(default=None, description="Inventory role; None for a host unknown to the inventory.")
    critical: bool = False
    owner: Name | None = None


class UserEntity(StrictModel):
    name: Name
    groups: list[Name] = Field(default_factory=list, max_length=16)
    kind: Literal["human", "service", "unknown"] = "unknown"
    it_admin: bool = False


class IpEntity(StrictModel):
    ip: IPAddress
    scope: Literal["internal", "external"]
    host: Name | None = Field(default=None, description="Inventory host owning an internal address.")
    known_good_service: Name | None = Field(default=None, description="Sanctioned service at this address, if any.")


class DomainEntity(StrictModel):
    domain: Annotated[str, StringConstraints(max_length=253)]
    known_good_service: Name | None = None


class AlertEntities(StrictModel):
    """Entities in the log window, enriched from the asset inventory as a SIEM would."""

    hosts: list[HostEntity] = Field(default_factory=list, max_length=MAX_EVENTS * 2)
    users: list[UserEntity] = Field(default_factory=list, max_length=MAX_EVENTS * 2)
    ips: list[IpEntity] = Field(default_factory=list, max_length=MAX_EVENTS * 2)
    domains: list[DomainEntity] = Field(default_factory=list, max_length=MAX_EVENTS * 2)


class Alert(StrictModel):
    """The SIEM alert a defender triages: a detection that fired, with its log window.

    Detections match surface patterns shared by attacks and their benign look-alikes, so
    the rule name and severity say what to look at, not what the answer is.
    """

    alert_id: Annotated[str, StringConstraints(pattern=r"^ALERT-[0-9a-f]{12}$")]
    rule_name: ShortText
    severity: Severity
    technique_ids: list[Annotated[str, StringConstraints(pattern=r"^T[0-9]{4}(\.[0-9]{3})?$")]] = Field(max_length=32)
    entities: AlertEntities
    summary: LongText
    first_seen: Timestamp
    last_seen: Timestamp
    events: list[Event] = Field(max_length=MAX_EVENTS, description="The log window, in time order.")


# ------------------------------------------------------------------------------- actions


class SubmitTriage(StrictModel):
    """The defender's verdict on an alert."""

    action: TriageAction = Field(description="One of dismiss, monitor, quarantine_host, block_ip, escalate.")
    cited_log_id: LogId = Field(description="The single log id that drove the decision.")
    rationale: Annotated[str, StringConstraints(max_length=MAX_RATIONALE)] = Field(
        default="", description="Short justification; recorded, never scored."
    )
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None, description="Optional probability that the action is correct, in [0, 1]."
    )
