"""The world an investigation runs in: an incident's events inside hours of ordinary telemetry for the inventory.

``build_store_events(incident, rng, hours, size)`` surrounds the incident with background activity on every host:
interactive and network logons, office work, browsing with its DNS lookups, mail, file-share traffic, EDR and
SaaS heartbeats, updates and managed installs, backups, the sanctioned scanner, Defender reading LSASS, and IT-Admins
working from the jump hosts. Every background event is written in the incident schema by the same builders the
generator uses, and is benign by construction: the activity generators below keep under every verdict rule's
threshold *per host and per account across the whole store* (no host talks to more than five internal services,
browses any site more than twice, uploads a megabyte anywhere unsanctioned, or mistypes a password more than once),
and what they do that looks like an attack is what a context rule explains (admin tooling on a jump host, the
backup job, the scanner, Defender). A test runs the verifier over whole stores to hold this.

Determinism: everything is drawn from the ``random.Random`` passed in, in a fixed order; no clock, no hashing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone, UTC

from ...generator import (
    ADMIN_SCRIPTS,
    FILE_STEMS,
    MAIL_SUBJECTS,
    USER_AGENTS,
    Scene,
    installer_activity,
    update_download_activity,
)
from ...parsing.timestamps import parse_timestamp
from ...world.inventory import EMAIL_DOMAIN, INVENTORY, KNOWN_GOOD_SERVICES, Host

# Ordinary sites people visit; one background visit pattern never repeats a site more than twice per host.
_SITES = ("news.example-daily.com", "docs.python.org", "learn.microsoft.com", "stackoverflow.com", "github.com",
          "www.bbc.co.uk", "weather.example.net", "maps.example.org", "intranet-wiki.example.com", "cdn.jsdelivr.net",
          "fonts.gstatic.com", "www.linkedin.com", "travel.example-booking.com", "hr-portal.example-saas.com",
          "support.example-vendor.com", "status.example-cloud.com", "blog.example-tech.io", "shop.example-supplies.com")
_SITE_ADDRESSES = ("104.21.48", "151.101.65", "172.67.181", "198.54.117", "66.42.98", "139.59.44")
_OFFICE_APPS = (("WINWORD.EXE", "docx"), ("EXCEL.EXE", "xlsx"), ("POWERPNT.EXE", "pptx"))
_OFFICE_DIR = "C:\\Program Files\\Microsoft Office\\root\\Office16"
_INTERNAL_SENDERS = ("it-news", "facilities", "payroll", "all-hands", "helpdesk")
_VENDOR_SENDERS = ("billing@example-vendor.com", "updates@example-saas.com", "newsletter@example-daily.com")


def _site_ip(rng: random.Random, site: str) -> str:
    # A stable address per site within one store, drawn from the shared outside blocks.
    return f"{rng.choice(_SITE_ADDRESSES)}.{(sum(map(ord, site)) % 240) + 10}"


class _Background:
    """Background activity builders over one scene; each appends to ``events``."""

    def __init__(self, scene: Scene, start: datetime, end: datetime):
        self.scene, self.rng = scene, scene.rng
        self.start, self.span = start, max(60.0, (end - start).total_seconds())
        self.events: list[dict] = []
        self.site_ips: dict[str, str] = {}
        self.typo_users: set[str] = set()
        self.visits: dict[tuple[str, str], int] = {}  # (host, site) -> visits: two at most, so never a beacon
        self.modified: dict[tuple[str, str], int] = {}  # (host, app) -> files modified: far under mass_file_count

    def t(self) -> float:
        """A random offset in the store's span, relative to the scene's clock."""
        return (self.start - self.scene.t0).total_seconds() + self.rng.uniform(0, self.span)

    def add(self, *events: dict) -> None:
        self.events.extend(events)

    # ------------------------------------------------------------------ people at work

    def workstation_day(self, ws: Host) -> None:
        s, user = self.scene, ws.owner
        t = self.t()
        self.add(s.auth(t, ws, user, ws.ip, "success", logon_type=self.rng.choice((2, 11))))
        dc = INVENTORY.host(self.rng.choice(("DC01", "DC02")))
        self.add(s.auth(t + 2, dc, user, ws.ip, "success", 3))
        if user not in self.typo_users and self.rng.random() < 0.15:  # one typo per account at most
            self.typo_users.add(user)
            self.add(s.auth(t - 5, dc, user, ws.ip, "failure", 3))
        for _ in range(self.rng.randint(1, 4)):
            app, ext = self.rng.choice(_OFFICE_APPS)
            exe = f"{_OFFICE_DIR}\\{app}"
            doc = f"C:\\Users\\{user}\\Documents\\{self.rng.choice(FILE_STEMS)}.{ext}"
            when = self.t()
            self.add(s.proc(when, ws, user, app, f'"{exe}" /n "{doc}"', executable=exe))
            count = self.rng.randint(1, 6)
            if self.modified.get((ws.name, app), 0) + count <= 40:
                self.modified[(ws.name, app)] = self.modified.get((ws.name, app), 0) + count
                self.add(s.files(when + 30, ws, user, "modification", doc, f".{ext}", count, app))
        for name, path in (("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"),
                           ("Teams.exe", f"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe"),
                           ("OneDrive.exe", f"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe")):
            if self.rng.random() < 0.7:
                self.add(s.proc(self.t(), ws, user, name, f'"{path}"', executable=path))

    def browsing(self, ws: Host) -> None:
        s = self.scene
        for site in self.rng.sample(_SITES, self.rng.randint(2, 6)):
            ip = self.site_ips.setdefault(site, _site_ip(self.rng, site))
            for _ in range(self.rng.randint(1, 2)):
                if self.visits.get((ws.name, site), 0) >= 2:  # three regular visits would be a beacon
                    break
                self.visits[(ws.name, site)] = self.visits.get((ws.name, site), 0) + 1
                when = self.t()
                self.add(s.dns(when, ws, site), s.http(when + 1, ws, ws.owner, ip, site, self.rng.choice(("/", "/index.html", "/search", "/docs/", "/api/v1/items")),
                                                       sent=self.rng.randint(200, 4000), recv=self.rng.randint(2_000, 600_000),
                                                       agent=self.rng.choice(USER_AGENTS[:2])))

    def file_share(self, ws: Host) -> None:
        fs = INVENTORY.host("FILE01")
        for _ in range(self.rng.randint(1, 3)):
            self.add(self.scene.conn(self.t(), ws, ws.ip, fs.ip, 445, sent=self.rng.randint(2_000, 400_000),
                                     recv=self.rng.randint(2_000, 2_000_000), proto="smb"))

    def mail(self, user: str) -> None:
        s = self.scene
        for _ in range(self.rng.randint(0, 3)):
            if self.rng.random() < 0.6:
                sender, attachment = f"{self.rng.choice(_INTERNAL_SENDERS)}@{EMAIL_DOMAIN}", None
            else:
                sender = self.rng.choice(_VENDOR_SENDERS)
                attachment = self.rng.choice((None, f"{self.rng.choice(FILE_STEMS)}.pdf"))
            subject = self.rng.choice(MAIL_SUBJECTS).format(n=self.rng.randint(1000, 99999), stem=self.rng.choice(FILE_STEMS))
            self.add(s.email(self.t(), user, sender, subject, attachment=attachment, link=None, spf="pass", dmarc="pass"))

    # ------------------------------------------------------------------ machines at work

    def heartbeats(self, host: Host) -> None:
        """EDR telemetry every few minutes: regular and small, to a sanctioned service."""
        svc = next(s for s in KNOWN_GOOD_SERVICES if s.purpose == "edr_telemetry")
        period = self.rng.choice((300, 600, 900))
        t = (self.start - self.scene.t0).total_seconds() + self.rng.uniform(0, period)
        for _ in range(int(self.span // period)):
            self.add(self.scene.conn(t, host, host.ip, svc.ip, 443, sent=self.rng.randint(300, 4000),
                                     recv=self.rng.randint(100, 900)))
            t += period * (1 + self.rng.uniform(-0.02, 0.02))

    def saas(self, ws: Host) -> None:
        svc = next(s for s in KNOWN_GOOD_SERVICES if s.purpose == "saas")
        for _ in range(self.rng.randint(1, 4)):
            self.add(self.scene.http(self.t(), ws, ws.owner, svc.ip, svc.domain, "/owa/", sent=self.rng.randint(500, 80_000),
                                     recv=self.rng.randint(2_000, 900_000)))

    def updates(self, host: Host) -> None:

        for ev in update_download_activity(self.scene, host) + (installer_activity(self.scene, host) if self.rng.random() < 0.4 else []):
            ev["timestamp"] = self.scene.ts(self.t())
            self.add(ev)

    def defender(self, host: Host) -> None:
        path = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe"
        self.add(self.scene.access(self.t(), host, "SYSTEM", "MsMpEng.exe", path, "0x1410"))

    def server_work(self, host: Host) -> None:
        s = self.scene
        if host.os_family == "linux":
            for _ in range(self.rng.randint(1, 3)):
                admin = self.rng.choice([u.name for u in INVENTORY.users if INVENTORY.is_it_admin(u.name)])
                self.add(s.auth(self.t(), host, admin, INVENTORY.host("JUMP01").ip, "success"))
            return
        for name, cmd in (("svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p"),
                          ("taskhostw.exe", "taskhostw.exe"), ("w3wp.exe", "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap DefaultAppPool")):
            if self.rng.random() < 0.6:
                self.add(s.proc(self.t(), host, "SYSTEM", name, cmd, parent="services.exe"))

    def backup_night(self) -> None:
        bkp = INVENTORY.host("BKP01")
        vault = next(s for s in KNOWN_GOOD_SERVICES if s.purpose == "backup")
        s = self.scene
        self.add(s.files(self.t(), bkp, "svc_backup", "creation", "E:\\Backups\\nightly\\*", ".vbk", self.rng.randint(20, 400),
                         "VeeamAgent.exe"))
        for _ in range(self.rng.randint(1, 3)):
            self.add(s.http(self.t(), bkp, "svc_backup", vault.ip, vault.domain, s.upload_path(), method="PUT",
                            sent=self.rng.randint(150_000_000, 9_000_000_000), recv=1200))

    def scanner(self) -> None:
        scan = INVENTORY.host("SCAN01")
        targets = INVENTORY.hosts_with_role("server", "critical")
        t = self.t()
        for i in range(self.rng.randint(8, 40)):
            target = self.rng.choice(targets)
            self.add(self.scene.conn(t + i * self.rng.uniform(0.05, 2), target, scan.ip, target.ip,
                                     self.rng.choice((22, 80, 135, 443, 445, 3389, 5985)), state=self.rng.choice(("S0", "REJ", "SF")),
                                     proto=None, sent=0, recv=0, duration=0.0))

    def admin_work(self) -> None:
        s = self.scene
        admin = self.rng.choice([u.name for u in INVENTORY.users if INVENTORY.is_it_admin(u.name)])
        jump = INVENTORY.host(self.rng.choice(("JUMP01", "JUMP02")))
        own = next((h for h in INVENTORY.hosts if h.owner == admin), INVENTORY.host("IT-WS01"))
        t = self.t()
        self.add(s.auth(t, jump, admin, own.ip, "success", logon_type=10))
        target = self.rng.choice(INVENTORY.hosts_with_role("server", "critical"))
        script = self.rng.choice(ADMIN_SCRIPTS).format(srv=target.name)
        self.add(s.proc(t + 60, jump, admin, "powershell.exe", f"powershell.exe -NoProfile -EncodedCommand {s.encoded(script)}",
                        parent="mmc.exe"))
        if self.rng.random() < 0.5:
            self.add(s.proc(t + 120, jump, admin, "PsExec.exe", f"PsExec.exe \\\\{target.name} -s -accepteula cmd.exe /c hostname",
                            parent="cmd.exe"))


def build_store_events(incident_events: list[dict], rng: random.Random, *, hours: float, target_size: int) -> list[dict]:
    """Background events around ``incident_events`` (dicts in the schema's dotted names, already timed): the store
    spans ``hours`` with the incident inside it, and holds about ``target_size`` events. Returns the background alone,
    unsorted and without log ids."""
    times = [parse_timestamp(e["timestamp"]) for e in incident_events]
    first, last = min(times), max(times)
    start = (first - timedelta(hours=hours) * rng.uniform(0.3, 0.7)).replace(microsecond=0)
    end = max(last, start + timedelta(hours=hours))
    world = _Background(Scene(rng, start), start, end)
    workstations = INVENTORY.hosts_with_role("workstation")
    servers = INVENTORY.hosts_with_role("server", "critical", "admin_jump", "backup_server")
    windows = [h for h in workstations + servers if h.os_family == "windows"]
    for host in windows:  # heartbeats cover the whole span once
        world.heartbeats(host)
    # Rounds of the day's activity until the store is full; each round touches every machine a little.
    while len(world.events) < target_size:
        for ws in workstations:
            world.workstation_day(ws)
            world.browsing(ws)
            world.file_share(ws)
            world.mail(ws.owner)
            world.saas(ws)
        for host in servers:
            world.server_work(host)
        world.updates(rng.choice(windows))
        world.defender(rng.choice(workstations))
        world.admin_work()
        if rng.random() < 0.5:
            world.scanner()
        if rng.random() < 0.3:
            world.backup_night()
    return world.events


def store_window(events: list[dict]) -> tuple[datetime, datetime]:
    times = [parse_timestamp(e["timestamp"]) for e in events]
    return min(times).astimezone(UTC), max(times).astimezone(UTC)
