"""The simulated enterprise: subnets, hosts, users, groups and known-good external services.

The inventory is the context an analyst has beside the logs: which host is a domain
controller, who is in IT-Admins, which outside address is the sanctioned backup vault.
Benign look-alikes are told apart from attacks by exactly this context, so the generator
draws from it, the verifier reads it, and the defender's alert carries the same facts as
enrichment. It is immutable data; nothing here does I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

HostRole = Literal["workstation", "server", "critical", "admin_jump", "scanner", "backup_server", "vpn_gateway",
                   "sso_server", "management_server"]
ServicePurpose = Literal["software_update", "backup", "saas", "edr_telemetry", "time", "dnsbl"]
OsFamily = Literal["windows", "linux"]
# What a host does beyond its role; the plausibility checker reads these to know which logs a host can write.
HostFunction = Literal["domain_controller", "dns_resolver", "mail_gateway", "update_server", "file_server",
                       "vpn_gateway", "single_sign_on", "software_management"]
GroupScope = Literal["global", "universal", "domain_local", "builtin"]


@dataclass(frozen=True)
class Subnet:
    """An internal network segment."""

    name: str
    cidr: str
    purpose: str


@dataclass(frozen=True)
class Host:
    """An internal machine. ``critical`` hosts escalate any confirmed compromise."""

    name: str
    ip: str
    role: HostRole
    os: str
    owner: str | None = None
    functions: tuple[HostFunction, ...] = ()

    @property
    def critical(self) -> bool:
        return self.role == "critical"

    @property
    def os_family(self) -> OsFamily:
        return "windows" if self.os.startswith("Windows") else "linux"


@dataclass(frozen=True)
class User:
    """A directory account; ``kind`` separates people from service accounts, ``runs_on`` names the hosts a service
    account's service runs on (its logons come from there, including those of a password nobody updated)."""

    name: str
    groups: tuple[str, ...]
    kind: Literal["human", "service"] = "human"
    runs_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExternalService:
    """A sanctioned outside service. Traffic of the kind it exists for is expected, whatever its volume;
    bulk uploads are expected only from the host roles in ``uploads_from`` (a download mirror takes none)."""

    name: str
    domain: str
    ip: str | None  # None for a service no host connects to itself (a DNS blocklist, asked through the resolver)
    purpose: ServicePurpose
    uploads_from: tuple[HostRole, ...] = ()
    queried_from: tuple[HostFunction, ...] = ()  # a DNS service: the host functions that look names up in it


@dataclass(frozen=True)
class Group:
    """A directory or built-in security group.

    ``sid`` is the well-known SID (built-in groups) or the relative id under the domain SID
    (``"-512"``); ``scope`` fixes which Windows event records a membership change (4728 global,
    4756 universal, 4732 domain-local and built-in). ``tier0`` groups control the domain or the
    hosts they are defined on: adding a member to one is a privilege escalation.
    """

    name: str
    scope: GroupScope
    tier0: bool
    sid: str | None = None


SUBNETS: tuple[Subnet, ...] = (
    Subnet("workstations", "10.10.0.0/16", "user endpoints"),
    Subnet("servers", "10.20.0.0/24", "line-of-business servers"),
    Subnet("critical", "10.30.0.0/24", "domain controllers and crown-jewel data"),
    Subnet("management", "10.40.0.0/24", "IT jump hosts, the sanctioned scanner, backup"),
)

IT_ADMIN_GROUP = "IT-Admins"
DOMAIN_NETBIOS = "CORP"
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"

# The tier-0 set is Active Directory's protected groups (those AdminSDHolder guards) plus
# DnsAdmins and Group Policy Creator Owners, whose members can run code on domain
# controllers. IT-Admins is tier 0 here too: its members are the admin context that
# excuses remote administration, so joining it is joining the admins.
GROUPS: tuple[Group, ...] = (
    Group("Domain Admins", "global", True, "-512"),
    Group("Domain Users", "global", False, "-513"),
    Group("Domain Controllers", "global", True, "-516"),
    Group("Schema Admins", "universal", True, "-518"),
    Group("Enterprise Admins", "universal", True, "-519"),
    Group("Group Policy Creator Owners", "global", True, "-520"),
    Group("Read-only Domain Controllers", "global", True, "-521"),
    Group("Key Admins", "global", True, "-526"),
    Group("Enterprise Key Admins", "universal", True, "-527"),
    Group("DnsAdmins", "domain_local", True),
    Group("Administrators", "builtin", True, "S-1-5-32-544"),
    Group("Account Operators", "builtin", True, "S-1-5-32-548"),
    Group("Server Operators", "builtin", True, "S-1-5-32-549"),
    Group("Print Operators", "builtin", True, "S-1-5-32-550"),
    Group("Backup Operators", "builtin", True, "S-1-5-32-551"),
    Group("Replicator", "builtin", True, "S-1-5-32-552"),
    Group(IT_ADMIN_GROUP, "global", True),
    Group("Finance", "global", False),
    Group("HR", "global", False),
    Group("Engineering", "global", False),
    Group("Sales", "global", False),
    Group("Legal", "global", False),
    Group("Vulnerability-Scanners", "global", False),
    Group("Software-Deployment", "global", False),
)
PRIVILEGED_GROUPS: frozenset[str] = frozenset(g.name for g in GROUPS if g.tier0)

USERS: tuple[User, ...] = (
    User("alice.chen", ("Finance",)),
    User("bob.martin", ("Finance",)),
    User("carol.diaz", ("HR",)),
    User("laura.white", ("HR",)),
    User("dave.kim", ("Engineering",)),
    User("erin.patel", ("Engineering",)),
    User("frank.osei", ("Engineering",)),
    User("kevin.brown", ("Engineering",)),
    User("grace.lee", ("Sales",)),
    User("henry.nguyen", ("Sales",)),
    User("maria.rossi", ("Sales",)),
    User("nina.schultz", ("Legal",)),
    User("ivan.petrov", (IT_ADMIN_GROUP, "Domain Admins")),
    User("julia.santos", (IT_ADMIN_GROUP, "Domain Admins")),
    User("omar.haddad", (IT_ADMIN_GROUP,)),
    User("svc_backup", ("Backup Operators",), "service", ("BKP01",)),
    User("svc_scanner", ("Vulnerability-Scanners",), "service", ("SCAN01",)),
    User("svc_deploy", ("Software-Deployment",), "service", ("WSUS01", "SCCM01")),
    User("SYSTEM", (), "service"),
)

HOSTS: tuple[Host, ...] = (
    Host("FIN-WS01", "10.10.1.11", "workstation", "Windows 11", "alice.chen"),
    Host("FIN-WS02", "10.10.1.12", "workstation", "Windows 11", "bob.martin"),
    Host("HR-WS01", "10.10.2.11", "workstation", "Windows 11", "carol.diaz"),
    Host("HR-WS02", "10.10.2.12", "workstation", "Windows 11", "laura.white"),
    Host("ENG-WS01", "10.10.3.11", "workstation", "Windows 11", "dave.kim"),
    Host("ENG-WS02", "10.10.3.12", "workstation", "Windows 11", "erin.patel"),
    Host("ENG-WS03", "10.10.3.13", "workstation", "Windows 11", "frank.osei"),
    Host("ENG-WS04", "10.10.3.14", "workstation", "Windows 11", "kevin.brown"),
    Host("SALES-WS01", "10.10.4.11", "workstation", "Windows 11", "grace.lee"),
    Host("SALES-WS02", "10.10.4.12", "workstation", "Windows 11", "henry.nguyen"),
    Host("SALES-WS03", "10.10.4.13", "workstation", "Windows 11", "maria.rossi"),
    Host("LEGAL-WS01", "10.10.5.11", "workstation", "Windows 11", "nina.schultz"),
    Host("IT-WS01", "10.10.9.11", "workstation", "Windows 11", "ivan.petrov"),
    Host("IT-WS02", "10.10.9.12", "workstation", "Windows 11", "julia.santos"),
    Host("WEB01", "10.20.0.10", "server", "Ubuntu 22.04"),
    Host("APP01", "10.20.0.11", "server", "Windows Server 2022"),
    Host("MAIL01", "10.20.0.12", "server", "Windows Server 2022", functions=("mail_gateway",)),
    Host("FILE01", "10.20.0.13", "server", "Windows Server 2022", functions=("file_server",)),
    Host("WSUS01", "10.20.0.15", "server", "Windows Server 2022", functions=("update_server",)),
    Host("DC01", "10.30.0.10", "critical", "Windows Server 2022", functions=("domain_controller", "dns_resolver")),
    Host("DC02", "10.30.0.11", "critical", "Windows Server 2022", functions=("domain_controller", "dns_resolver")),
    Host("DB-PAYROLL", "10.30.0.20", "critical", "Windows Server 2022"),
    Host("FS-FINANCE", "10.30.0.21", "critical", "Windows Server 2022"),
    Host("JUMP01", "10.40.0.10", "admin_jump", "Windows Server 2022"),
    Host("JUMP02", "10.40.0.11", "admin_jump", "Windows Server 2022"),
    Host("SCAN01", "10.40.0.20", "scanner", "Ubuntu 22.04", "svc_scanner"),
    Host("BKP01", "10.40.0.30", "backup_server", "Windows Server 2022", "svc_backup"),
    # The remote-access gateway, the single sign-on server and the software management server: each makes bursts of
    # logons or connections to many hosts as its job.
    Host("VPN01", "10.40.0.40", "vpn_gateway", "Ubuntu 22.04", functions=("vpn_gateway",)),
    Host("SSO01", "10.20.0.16", "sso_server", "Windows Server 2022", functions=("single_sign_on",)),
    Host("SCCM01", "10.20.0.17", "management_server", "Windows Server 2022", "svc_deploy",
         functions=("software_management",)),
)

KNOWN_GOOD_SERVICES: tuple[ExternalService, ...] = (
    ExternalService("Windows Update", "download.windowsupdate.com", "13.107.4.50", "software_update"),
    ExternalService("Chrome updates", "dl.google.com", "142.250.72.14", "software_update"),
    ExternalService("Adobe updates", "ardownload2.adobe.com", "23.48.36.18", "software_update"),
    ExternalService("Offsite backup vault", "vault.cloudbackup-corp.net", "52.95.110.40", "backup",
                    uploads_from=("backup_server",)),
    ExternalService("Microsoft 365", "outlook.office365.com", "40.97.116.82", "saas"),
    ExternalService("EDR telemetry", "telemetry.sentinelcloud.io", "34.120.88.21", "edr_telemetry"),
    # Time: every Windows host keeps its clock with Microsoft's time server, regularly, by design.
    ExternalService("Windows time", "time.windows.com", "168.61.215.74", "time"),
    # The mail relay asks a DNS blocklist about each sender's address (reversed-octet labels under the zone).
    ExternalService("Spamhaus DNS blocklist", "zen.spamhaus.org", None, "dnsbl", queried_from=("mail_gateway",)),
)

# Processes that legitimately read LSASS memory, pinned to their install directory so a renamed binary elsewhere
# does not inherit the trust: the EDR, Defender and the system processes that own the credentials.
TRUSTED_LSASS_READERS: tuple[tuple[str, str], ...] = (
    ("msmpeng.exe", "c:\\programdata\\microsoft\\windows defender\\platform\\"),
    ("csrss.exe", "c:\\windows\\system32\\"),
    ("wininit.exe", "c:\\windows\\system32\\"),
    ("sentinelagent.exe", "c:\\program files\\sentinelcloud\\"),
    ("mrt.exe", "c:\\windows\\system32\\"),  # Windows' own Malicious Software Removal Tool scans LSASS too
)

# Public address blocks that outside parties (customers, CDNs, attackers alike) are drawn
# from. Benign and malicious traffic share these blocks so that a prefix never gives the
# label away; only the known-good list above is context.
EXTERNAL_PREFIXES: tuple[str, ...] = (
    "45.133.1", "185.220.101", "91.92.240", "194.26.29", "103.145.13", "5.188.86",
    "193.142.146", "141.98.10", "104.21.48", "151.101.65", "172.67.181", "198.54.117",
    "66.42.98", "139.59.44", "159.65.210", "37.120.198",
)

PUBLIC_DNS_RESOLVER = "10.30.0.10"  # DC01 answers DNS for the domain, as in most AD shops.
EMAIL_DOMAIN = "corp.example.com"
DNS_DOMAIN = "corp.example.com"


@dataclass(frozen=True)
class Inventory:
    """Read-only view over the asset tables with the lookups the verifier needs."""

    subnets: tuple[Subnet, ...] = SUBNETS
    hosts: tuple[Host, ...] = HOSTS
    users: tuple[User, ...] = USERS
    services: tuple[ExternalService, ...] = KNOWN_GOOD_SERVICES

    def host(self, name: str) -> Host | None:
        """The host a log names, read as Windows reads host names: case-insensitive, and its FQDN in the
        corporate DNS domain names the same host."""
        return _hosts_by_name().get(canonical_host_name(name))

    def host_by_ip(self, ip: str) -> Host | None:
        return _hosts_by_ip().get(ip)

    def user(self, name: str) -> User | None:
        """The account a log names, whatever the form it is logged in: ``alice.chen``, ``CORP\\alice.chen``,
        ``corp.example.com\\alice.chen``, ``alice.chen@corp.example.com`` (case-insensitive), or
        ``NT AUTHORITY\\SYSTEM`` for the local system account."""
        return _users_by_name().get(canonical_user_name(name))

    def group(self, name: str | None = None, sid: str | None = None) -> Group | None:
        """The group a log names by name (any domain prefix or case) or by SID; None when it is not in the directory."""
        if sid is not None:
            return _groups_by_sid().get(sid.upper())
        return _groups_by_name().get(canonical_group_name(name or ""))

    def service_by_ip(self, ip: str) -> ExternalService | None:
        return _services_by_ip().get(ip)

    def service_by_domain(self, domain: str) -> ExternalService | None:
        return _services_by_domain().get(domain.lower().rstrip("."))

    def is_it_admin(self, user_name: str | None) -> bool:
        user = self.user(user_name) if user_name else None
        return user is not None and IT_ADMIN_GROUP in user.groups

    def hosts_with_function(self, function: HostFunction) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if function in h.functions)

    def hosts_with_role(self, *roles: HostRole) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.role in roles)

    def to_dict(self) -> dict:
        """The inventory as the JSON an attacker's brief and the docs show."""
        return {
            "subnets": [vars(s) for s in self.subnets],
            "hosts": [{**vars(h), "functions": list(h.functions), "critical": h.critical, "os_family": h.os_family}
                      for h in self.hosts],
            "users": [{"name": u.name, "groups": list(u.groups), "kind": u.kind, "runs_on": list(u.runs_on)}
                      for u in self.users],
            "groups": [{"name": g.name, "scope": g.scope, "tier0": g.tier0,
                        "sid": (DOMAIN_SID + g.sid if g.sid and g.sid.startswith("-") else g.sid)} for g in GROUPS],
            "privileged_groups": sorted(PRIVILEGED_GROUPS),
            "it_admin_group": IT_ADMIN_GROUP,
            "domain": {"netbios": DOMAIN_NETBIOS, "dns": DNS_DOMAIN, "sid": DOMAIN_SID},
            "known_good_services": [{**vars(s), "uploads_from": list(s.uploads_from), "queried_from": list(s.queried_from)}
                                    for s in self.services],
        }


INVENTORY = Inventory()


@lru_cache(maxsize=1 << 16)
def is_internal_ip(ip: str) -> bool:
    """True when ``ip`` falls inside one of the enterprise's internal subnets."""
    addr = ipaddress.ip_address(ip)
    return any(addr in net for net in _internal_networks())


@lru_cache(maxsize=1 << 16)
def is_routable_external_ip(ip: str) -> bool:
    """True for a global unicast address outside the enterprise (a plausible remote peer)."""
    addr = ipaddress.ip_address(ip)
    return addr.is_global and not addr.is_multicast and not is_internal_ip(ip)


@cache
def _internal_networks() -> tuple[ipaddress.IPv4Network, ...]:
    return tuple(ipaddress.ip_network(s.cidr) for s in SUBNETS)


_DOMAIN_PREFIXES = (DOMAIN_NETBIOS.lower() + "\\", DNS_DOMAIN + "\\")
_LOCAL_SYSTEM = {"nt authority\\system": "system", "local system": "system", "localsystem": "system"}


@lru_cache(maxsize=1 << 12)
def canonical_host_name(name: str) -> str:
    """Upper-case short name: ``dc01.corp.example.com`` and ``DC01`` are the same host."""
    name = name.strip().rstrip(".").upper()
    suffix = "." + DNS_DOMAIN.upper()
    return name[: -len(suffix)] if name.endswith(suffix) else name


@lru_cache(maxsize=1 << 12)
def canonical_user_name(name: str) -> str:
    """Lower-case account name with the corporate domain's prefix or UPN suffix removed. A foreign domain's
    prefix is kept, so ``EVIL\\alice.chen`` is not ``alice.chen``."""
    name = name.strip().lower()
    if name in _LOCAL_SYSTEM:
        return _LOCAL_SYSTEM[name]
    for prefix in _DOMAIN_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    if name.endswith("@" + DNS_DOMAIN):
        return name[: -len(DNS_DOMAIN) - 1]
    return name


@lru_cache(maxsize=1 << 12)
def canonical_group_name(name: str) -> str:
    """Lower-case group name with the corporate domain's or BUILTIN prefix removed."""
    name = name.strip().lower()
    for prefix in (*_DOMAIN_PREFIXES, "builtin\\"):
        if name.startswith(prefix):
            return name[len(prefix):]
    if name.endswith("@" + DNS_DOMAIN):
        return name[: -len(DNS_DOMAIN) - 1]
    return name


@cache
def _hosts_by_name() -> dict[str, Host]:
    return {canonical_host_name(h.name): h for h in HOSTS}


@cache
def _hosts_by_ip() -> dict[str, Host]:
    return {h.ip: h for h in HOSTS}


@cache
def _users_by_name() -> dict[str, User]:
    return {canonical_user_name(u.name): u for u in USERS}


@cache
def _groups_by_name() -> dict[str, Group]:
    return {canonical_group_name(g.name): g for g in GROUPS}


@cache
def _groups_by_sid() -> dict[str, Group]:
    return {(DOMAIN_SID + g.sid if g.sid.startswith("-") else g.sid).upper(): g for g in GROUPS if g.sid}


@cache
def _services_by_ip() -> dict[str, ExternalService]:
    return {s.ip: s for s in KNOWN_GOOD_SERVICES if s.ip is not None}


@cache
def _services_by_domain() -> dict[str, ExternalService]:
    return {s.domain: s for s in KNOWN_GOOD_SERVICES}
