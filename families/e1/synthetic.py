"""The synthetic E1 tier: seeded Zeek-style flows, used when no real dataset is available.

Flows are drawn from traffic families seen in IoT captures (DNS, NTP, HTTPS and HTTP
sessions, SSDP, failed connections; Mirai-style telnet scans, C&C check-ins, floods, file
downloads, SSH guessing). The families overlap on purpose: benign NTP and failed lookups
are S0 with no duration, malware downloads complete like benign HTTP. Only fields carry
signal; nothing names a label. Each record says it is synthetic in its provenance.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .flows import FlowRecord, LabeledFlow

Family = Callable[[random.Random], FlowRecord]


def _flow(proto, service, orig_port, resp_port, duration, ob, rb, op, rp, state, history) -> FlowRecord:
    return FlowRecord(proto=proto, service=service, orig_port=orig_port, resp_port=resp_port, duration=duration,
                      orig_bytes=ob, resp_bytes=rb, orig_pkts=op, resp_pkts=rp, conn_state=state, history=history,
                      local_orig=None, local_resp=None)


def _eph(rng: random.Random) -> int:
    return rng.randint(32768, 60999)


def _dns(rng):
    q = rng.randint(28, 60)
    return _flow("udp", "dns", _eph(rng), 53, round(rng.uniform(0.001, 0.2), 6), q, q + rng.randint(16, 200), 1, 1, "SF", "Dd")


def _ntp(rng):
    if rng.random() < 0.5:  # the server did not answer
        return _flow("udp", None, 123, 123, None, None, None, 1, 0, "S0", "D")
    return _flow("udp", None, 123, 123, round(rng.uniform(0.01, 0.3), 6), 48, 48, 1, 1, "SF", "Dd")


def _https(rng):
    ob, rb = rng.randint(500, 20_000), rng.randint(2_000, 3_000_000)
    return _flow("tcp", "ssl", _eph(rng), 443, round(rng.uniform(0.2, 120), 6), ob, rb, rng.randint(8, 60),
                 rng.randint(8, 2500), "SF", rng.choice(["ShADadFf", "ShADadfF", "ShADadFRf"]))


def _http(rng):
    rb = rng.randint(300, 400_000)
    return _flow("tcp", "http", _eph(rng), rng.choice([80, 8080]), round(rng.uniform(0.05, 10), 6), rng.randint(100, 900),
                 rb, rng.randint(4, 40), rng.randint(4, 300), "SF", "ShADadfF")


def _ssdp(rng):
    return _flow("udp", None, _eph(rng), rng.choice([1900, 5353]), None, None, None, 1, 0, "S0", "D")


def _failed_connect(rng):
    state = rng.choice(["S0", "REJ", "S0"])
    return _flow("tcp", None, _eph(rng), rng.choice([443, 80, 8883, 5228]), None if state == "S0" else round(rng.uniform(0.0001, 0.01), 6),
                 None if state == "S0" else 0, None if state == "S0" else 0, rng.randint(1, 3), 0 if state == "S0" else 1,
                 state, "S" if state == "S0" else "Sr")


def _telnet_scan(rng):
    return _flow("tcp", None, _eph(rng), rng.choice([23, 2323, 23, 8080, 5555]), None, None, None, rng.randint(1, 2), 0,
                 rng.choice(["S0", "S0", "REJ"]), "S")


def _cnc(rng):
    return _flow("tcp", None, _eph(rng), rng.choice([6667, 1337, 8443, 443, 5050]), round(rng.uniform(0.1, 30), 6),
                 rng.randint(20, 400), rng.randint(0, 300), rng.randint(3, 12), rng.randint(2, 10),
                 rng.choice(["SF", "S3", "RSTO", "S1"]), rng.choice(["ShAdDaf", "ShAdDa", "ShADadR"]))


def _flood(rng):
    pkts = rng.randint(50, 20_000)
    proto = rng.choice(["udp", "tcp"])
    return _flow(proto, None, _eph(rng), rng.choice([80, 53, 443, rng.randint(1, 65535)]), round(rng.uniform(1, 60), 6),
                 pkts * rng.randint(40, 1400), 0, pkts, 0, "S0" if proto == "udp" else "OTH", "D" if proto == "udp" else "^d")


def _download(rng):
    return _flow("tcp", "http", _eph(rng), rng.choice([80, 8080]), round(rng.uniform(0.2, 8), 6), rng.randint(100, 400),
                 rng.randint(30_000, 900_000), rng.randint(6, 40), rng.randint(20, 700), "SF", "ShADadfF")


def _ssh_guess(rng):
    return _flow("tcp", "ssh", _eph(rng), 22, round(rng.uniform(0.5, 4), 6), rng.randint(900, 2000), rng.randint(1000, 2500),
                 rng.randint(10, 20), rng.randint(10, 20), rng.choice(["RSTO", "SF", "RSTR"]), "ShAdDaR")


BENIGN_FAMILIES: dict[str, Family] = {"dns": _dns, "ntp": _ntp, "https": _https, "http": _http, "ssdp": _ssdp,
                                      "failed-connect": _failed_connect}
MALICIOUS_FAMILIES: dict[str, Family] = {"telnet-scan": _telnet_scan, "c2-checkin": _cnc, "flood": _flood,
                                         "file-download": _download, "ssh-guessing": _ssh_guess}


def synthetic_flows(n: int, seed: int) -> list[LabeledFlow]:
    """``n`` flows, half benign and half malicious, identical for the same ``seed``."""
    rng = random.Random(f"opensoc-e1-synthetic:{seed}")
    out = []
    for i in range(n):
        malicious = i % 2 == 1
        families = MALICIOUS_FAMILIES if malicious else BENIGN_FAMILIES
        name = rng.choice(sorted(families))
        out.append(LabeledFlow(families[name](rng), "Malicious" if malicious else "Benign", "synthetic",
                               f"synthetic-{name}", name if malicious else "-"))
    rng.shuffle(out)
    return out
