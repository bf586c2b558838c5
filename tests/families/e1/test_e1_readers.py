"""The readers on the real samples (counts from shared/data/PROVENANCE.md) and on crafted quirk files."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from opensoc.families.e1.flows import (
    MISSING,
    QUESTION_FIELDS,
    FlowRecord,
    render_question,
)
from opensoc.families.e1.readers import (
    ReaderError,
    read_cic,
    read_iot23,
    read_unsw,
    read_unsw_features,
)

IOT23 = {
    "CTU-IoT-Malware-Capture-34-1": (23_145, {"Malicious": 21_222, "Benign": 1_923},
                                     {"DDoS": 14_394, "C&C": 6_706, "PartOfAHorizontalPortScan": 122, "-": 1_923}),
    "CTU-IoT-Malware-Capture-42-1": (4_426, {"Benign": 4_420, "Malicious": 6},
                                     {"FileDownload": 3, "C&C-FileDownload": 3, "-": 4_420}),
    "CTU-Honeypot-Capture-4-1": (452, {"Benign": 452}, {"-": 452}),
}


@pytest.mark.slow  # more than a second
@pytest.mark.parametrize("capture", sorted(IOT23))
def test_iot23_counts(shared_data, capture):
    rows = list(read_iot23(shared_data / "iot23" / capture / "conn.log.labeled"))
    n, labels, families = IOT23[capture]
    assert len(rows) == n
    assert Counter(r.label for r in rows) == labels
    assert Counter(r.attack_family for r in rows) == families
    assert {r.scenario for r in rows} == {capture}


def test_iot23_values_are_typed(shared_data):
    rows = list(read_iot23(shared_data / "iot23" / "CTU-IoT-Malware-Capture-34-1" / "conn.log.labeled"))
    first = rows[0].flow
    assert (first.proto, first.resp_port, first.conn_state, first.history) == ("tcp", 80, "S0", "S")
    assert first.duration == pytest.approx(3.139211) and first.orig_bytes == 0 and first.service is None
    assert rows[1].flow.duration is None  # '-' is missing, not zero


def test_unsw_raw_counts(shared_data):
    d = shared_data / "unsw_nb15"
    names = read_unsw_features(d / "NUSW-NB15_features.csv")
    assert len(names) == 49 and names[0] == "srcip" and names[-2:] == ["attack_cat", "Label"]
    rows = list(read_unsw(d / "UNSW-NB15_1.head3000.csv", d / "NUSW-NB15_features.csv"))
    assert len(rows) == 3000
    assert Counter(r.label for r in rows) == {"Benign": 2902, "Malicious": 98}
    assert Counter(r.attack_family for r in rows) == {"-": 2902, "Exploits": 57, "Reconnaissance": 23, "DoS": 8,
                                                      "Generic": 6, "Shellcode": 4}
    assert rows[0].flow.proto == "udp" and rows[0].flow.orig_port == 1390 and rows[0].flow.resp_port == 53
    with pytest.raises(ReaderError, match="NUSW-NB15_features"):
        list(read_unsw(d / "UNSW-NB15_1.head3000.csv"))


def test_unsw_partition_counts(shared_data):
    rows = list(read_unsw(shared_data / "unsw_nb15" / "UNSW_NB15_testing-set.head4528.csv"))
    assert len(rows) == 4528
    assert Counter(r.label for r in rows) == {"Benign": 243, "Malicious": 4285}
    families = Counter(r.attack_family for r in rows)
    assert families["Exploits"] == 1800 and families["DoS"] == 1055 and families["-"] == 243 and families["Worms"] == 7
    assert rows[0].flow.orig_port is None and rows[0].flow.proto == "udp"  # the partition has no ports


@pytest.mark.parametrize(("path", "n", "columns"), [
    ("Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head9998.csv", 9998, 79),
    ("TrafficLabelling/Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.csv", 299, 85),
])
def test_cic_counts(shared_data, path, n, columns):
    rows = list(read_cic(shared_data / "cic_ids_2017" / path))
    assert len(rows) == n and Counter(r.label for r in rows) == {"Benign": n}
    header = (shared_data / "cic_ids_2017" / path).read_text().splitlines()[0].split(",")
    assert len(header) == columns and header.count(" Fwd Header Length") == 2
    assert all(r.flow.resp_port is not None for r in rows)


def test_both_cic_layouts_agree(shared_data):
    ml = list(read_cic(shared_data / "cic_ids_2017" / "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head9998.csv"))[:299]
    tl = list(read_cic(shared_data / "cic_ids_2017" / "TrafficLabelling" / "Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.head299.csv"))
    strip = lambda f: dataclasses.replace(f, proto=None, orig_port=None)  # noqa: E731 - identifiers only in TrafficLabelling
    assert [strip(a.flow) for a in ml] == [strip(b.flow) for b in tl]


# ---- crafted files exercising each quirk (written by the test, not taken from the samples)

_ZEEK_HEADER = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
                "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
                "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
                "resp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label\n")


def _zeek_row(label: str, detailed: str, service: str = "-") -> str:
    return (f"1.0\tCabc\t10.0.0.2\t5000\t10.0.0.9\t23\ttcp\t{service}\t-\t-\t-\tS0\tT\t(empty)\t0\tS\t1\t60\t0\t0\t"
            f"-   {label}   {detailed}")


def test_iot23_quirks(tmp_path):
    p = tmp_path / "cap" / "conn.log.labeled"
    p.parent.mkdir()
    body = _ZEEK_HEADER + _zeek_row("benign", "-", "(empty)") + "\n" + _zeek_row("Malicious", "PartOfAHorizontalPortScan")
    p.write_bytes(body.replace("\n", "\r\n").encode())  # CRLF, no #close footer, no trailing newline
    rows = list(read_iot23(p))
    assert [r.label for r in rows] == ["Benign", "Malicious"]
    assert rows[1].attack_family == "PartOfAHorizontalPortScan" and rows[0].attack_family == "-"
    assert rows[0].flow.service is None and rows[0].flow.local_orig is True and rows[0].flow.local_resp is None
    assert rows[0].flow.resp_port == 23


def test_iot23_rejects_short_rows(tmp_path):
    p = tmp_path / "conn.log.labeled"
    p.write_text(_ZEEK_HEADER + "1.0\tCabc\t10.0.0.2\n")
    with pytest.raises(ReaderError, match=":7: 3 fields"):
        list(read_iot23(p))


def test_unsw_bom_and_hex_ports(tmp_path):
    names = ["srcip", "sport", "dstip", "dsport", "proto", "state", "dur", "sbytes", "dbytes", "service", "Spkts",
             "Dpkts", "attack_cat", "Label"]
    features = tmp_path / "features.csv"
    features.write_bytes(("No.,Name,Type ,Description\r\n" + "".join(f"{i},{n},x,d\r\n" for i, n in enumerate(names, 1))).encode("cp1252"))
    data = tmp_path / "raw.csv"
    data.write_bytes("\ufeff1.2.3.4,0x000b,5.6.7.8,0xc0a8,tcp,FIN,0.5,10,20,-,1,1,,0\r\n".encode("utf-8"))
    (row,) = read_unsw(data, features)
    assert (row.flow.orig_port, row.flow.resp_port, row.flow.service, row.label) == (11, 0xC0A8, None, "Benign")


def test_labels_never_reach_the_flow_or_question():
    assert {f.name for f in dataclasses.fields(FlowRecord)} == set(QUESTION_FIELDS)
    flow = FlowRecord(*([None] * len(QUESTION_FIELDS)))
    text = render_question(flow)
    assert text.count(f"={MISSING}") == len(QUESTION_FIELDS)
    assert "label" not in text.lower().replace("benign or malicious", "")
