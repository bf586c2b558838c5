"""The README is a front door and the manual lives in docs/: every link and every path the pages name resolves, and
every figure on the README's front is the one in the file it cites."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A path in backticks that names something in the checkout: a folder and a file with one of these endings.
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|json|jsonl|yaml|yml|sh|txt|png|toml|ipynb))`")
MODULE = re.compile(r"`(?:python -m )?(opensoc(?:\.\w+)+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Files a run writes, named by the pages as where to find its figures; never committed.
OUTPUTS = {"bench/gpu_results.json"}
IMPORT = re.compile(r"^from (opensoc(?:\.\w+)+) import ([\w, ]+)$", re.M)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _figures() -> dict[str, str]:
    """The README's headline table, by its first column."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Headline figures", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    return {row[0]: row[1] for row in rows[1:]}


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for page in (REPO / "docs").glob("*.md"):
        assert f"](docs/{page.name}" in readme, f"the README links no docs page {page.name}"


def test_every_link_resolves_to_a_file_and_a_heading():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def _module_file(parts: list[str]) -> Path | None:
    """The file of the module ``opensoc.<parts>``, if there is one."""
    base = REPO.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_every_path_and_module_the_pages_name_exists():
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        missing += [f"{page.relative_to(REPO)}: {rel}" for rel in PATH.findall(text)
                    if rel not in OUTPUTS and not (REPO / rel).exists()]
        for name in MODULE.findall(text):
            parts = name.split(".")[1:]
            # The longest prefix that is a module; what follows it, if anything, is a name that module holds.
            k = next((k for k in range(len(parts), 0, -1) if _module_file(parts[:k])), 0)
            module = _module_file(parts[:k]) if k else None
            if module is None or (k < len(parts) and not re.search(rf"\b{parts[k]}\b", module.read_text("utf-8"))):
                missing.append(f"{page.relative_to(REPO)}: {name}")
        for name, imported in IMPORT.findall(text):  # the snippets' imports
            module = _module_file(name.split(".")[1:])
            source = module.read_text("utf-8") if module else ""
            missing += [f"{page.relative_to(REPO)}: from {name} import {n.strip()}" for n in imported.split(",")
                        if not re.search(rf"\b{n.strip()}\b", source)]
    assert not missing, "\n".join(missing)


def test_the_core_snippet_runs_as_written(capsys):
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "generate(\"stage2_multi\"" in b)
    exec(compile(snippet, "docs/architecture.md", "exec"), {})
    triage, sound, attacker = capsys.readouterr().out.split()
    assert (float(triage), sound) == (1.1, "True") and -0.5 <= float(attacker) <= 1.2


def test_the_headline_figures_are_the_files_they_cite():
    figures = _figures()

    def row(start: str) -> str:
        return next(value for key, value in figures.items() if key.startswith(start))

    holdout = json.loads((REPO / "docs" / "eval" / "results.json").read_text())["policies"]
    accuracy = " / ".join(f"{holdout[p]['overall']['accuracy']:.1%}"
                          for p in ("heuristic", "analyst", "cpu_defender", "verifier_oracle"))
    assert row("triage hold-out accuracy") == accuracy

    investigation = json.loads((REPO / "docs" / "eval_investigation" / "results.json").read_text())["policies"]
    scripted = investigation["scripted_investigator"]["overall"]
    assert row("investigation hold-out") == f"{scripted['accuracy']:.1%} / {scripted['evidence_recall']:.1%}"

    attacker = json.loads((REPO / "train" / "artifacts" / "cpu_attacker.json").read_text())["meta"]
    assert row("CPU attacker's evasion rate") == f"{attacker['evasion_rate_before']:.0%} / {attacker['evasion_rate_after']:.1%}"

    scratch = json.loads((REPO / "train" / "artifacts" / "scratch" / "results.json").read_text())

    def change(c: dict) -> str:
        return f"{c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"

    assert row("1.3M-parameter LLM") == f"{change(scratch['sft_change'])} / {change(scratch['grpo_change'])}"
    assert round(scratch["parameters"] / 1e6, 1) == 1.3 and round(scratch["seconds"]["total"] / 60) == 18

    bench = json.loads((REPO / "bench" / "results.json").read_text())["episodes_per_s"]
    assert row("episodes/s over `/ws`") == f"{bench['opensoc_ws_grouped']:,.0f} / {bench['openenv_echo_ws']:,.0f}"
    core = json.loads((REPO / "bench" / "core_results.json").read_text())["median_per_s"]
    assert row("in-process episodes/s") == (f"{core['episodes/stage1_basic']:,.0f} / "
                                            f"{core['episodes/stage4_adversarial']:,.0f}")


def test_one_figure_for_cpu_training():
    """`opensoc train cpu` was timed once; every page that says how long it takes gives that time."""
    measured = next(value for key, value in _figures().items() if key.startswith("`opensoc train cpu`"))
    training = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    assert measured in training
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "in under a minute" not in text and "about 80 s" not in text, page.name


def test_the_readme_soundness_figures_are_the_audit():
    audit = json.loads((REPO / "bench" / "audit_results.json").read_text())
    before = json.loads((REPO / "bench" / "audit_before.json").read_text())
    readme = (REPO / "README.md").read_text()
    section = re.sub(r"\s+", " ", readme[readme.index("## Why the reward cannot be hacked"):readme.index("## Documentation")])
    honest, rewrites = audit["honest_play"], audit["rewrites"].values()
    assert (f"of {honest['incidents']} honest generated incidents, {sum(honest['refused'].values())} refused, "
            f"{sum(honest['contested_by_rule'].values())} contested and {honest['mislabelled']} mislabelled") in section
    drawn, flips = sum(r["rewrites"] for r in rewrites), sum(r["paid_flips"] for r in rewrites)
    was = before["rewrites"].values()
    assert (f"of {drawn:,} semantics-preserving rewrites" in section and f"{flips} paid flips" in section
            and f"paid {sum(r['paid_flips'] for r in was)} of {sum(r['rewrites'] for r in was):,}" in section)
    corpus = audit["sigma_corpus"]
    assert f"of {corpus['events']:,} attack events written from the SigmaHQ rules, {len(corpus['paid_as_dismiss'])} paid" in section


def test_the_documented_soak_is_the_benchmark_file():
    soak = json.loads((REPO / "bench" / "soak_results.json").read_text())
    page = re.sub(r"\s+", " ", (REPO / "docs" / "service.md").read_text())
    families, rss = soak["families"], soak["rss_mb"]
    assert f"through {soak['episodes']:,} episodes" in page and f"{soak['errors']} errors in {soak['seconds']:,.0f} s" in page
    assert (f"p99 per episode {families['triage']['p99_ms']} ms for triage, {families['e1']['p99_ms']} ms for E1, "
            f"{families['investigation']['p99_ms']:,.0f} ms for an investigation") in page
    assert f"{rss['after_warmup']:,.0f} MB once the warm-up" in page and f"at most {rss['max_after_warmup']:,.0f} MB" in page
    assert rss["max_over_warmup"] < 1.1 and soak["errors"] == 0
    # How the curve levels off is read from the samples: the rise over the next 300,000 episodes, then the rest.
    samples, warm = soak["rss_samples"], rss["warmup_episodes"]
    at = {n: max(mb for _, done, mb in samples if done <= n) for n in (warm, 2 * warm)}
    first, rest = at[2 * warm] - at[warm], rss["final"] - at[2 * warm]
    assert (f"+{first:,.0f} MB over the next {warm:,} episodes, +{rest:,.0f} MB over the "
            f"{soak['episodes'] - 2 * warm:,} after those") in page


def test_the_readme_self_play_figures_are_the_committed_run():
    run = json.loads((REPO / "train" / "artifacts" / "selfplay" / "selfplay.json").read_text())
    readme = (REPO / "README.md").read_text()
    section = re.sub(r"\s+", " ", readme[readme.index("## Self-play on a CPU"):readme.index("## Why the reward")])

    def rate(r: dict) -> str:
        return f"{r['rate']:.1%} [{r['lo']:.1%}, {r['hi']:.1%}]"

    first, last = run["rounds"][0], run["rounds"][-1]
    assert f"lifts evasion from {rate(run['initial_evasion'])} to {rate(first['evasion'])}" in section
    assert f"hold-out accuracy is {rate(last['holdout']['accuracy'])}" in section
    assert f"({run['initial_holdout']['accuracy']['rate']:.1%} before" in section
    last_defender = [row[-1]["rate"] for row in run["cross_play"]]  # rows: attackers; columns: defenders
    low, high = min(last_defender), max(last_defender)
    assert f"to {low:.1%}–{high:.1%}" in section and run["replay_pool_sound"] and run["sigmahq_rules"] > 0
    # The defender's hold-out accuracy never falls round over round, and the README shows every round's.
    series = [run["initial_holdout"]["accuracy"]["rate"], *(r["holdout"]["accuracy"]["rate"] for r in run["rounds"])]
    assert series == sorted(series)
    assert ", ".join(f"{x:.1%}" for x in series[1:-1]) + " in between, never lower than the round before" in section


def test_the_readme_public_use_section_is_the_benchmark_files():
    soak = json.loads((REPO / "bench" / "soak_results.json").read_text())
    memory = json.loads((REPO / "bench" / "hardening_results.json").read_text())["memory"]
    readme = (REPO / "README.md").read_text()
    section = re.sub(r"\s+", " ", readme[readme.index("## Running it in public"):readme.index("## Documentation")])
    families, rss = soak["families"], soak["rss_mb"]
    assert f"A soak of {soak['episodes']:,} WebSocket episodes" in section and soak["errors"] == 0
    if not soak.get("complete", True):  # a run cut short says so, and how many it planned
        assert f"(of {soak['planned_episodes']:,} planned: the run was cut short" in section
    assert (f"{soak['errors']} errors in {soak['seconds']:,.0f} s ({soak['episodes_per_s']} episodes/s); p99 per "
            f"episode {families['triage']['p99_ms']} ms for triage, {families['e1']['p99_ms']} ms for E1, "
            f"{families['investigation']['p99_ms']:,.0f} ms for an investigation") in section
    assert f"{rss['after_warmup']:,.0f} MB once the warm-up" in section and f"at most {rss['max_after_warmup']:,.0f} MB" in section
    idle, store, runs = memory["idle_mb"], memory["store_full_4096_mb"], memory["plus_8_runs_of_512_mb"]
    assert (f"adds to the {idle:,.0f} MB of a warm server: 4,096 HTTP episodes holding the largest plausible craft "
            f"+{store - idle:,.0f} MB, 8 runs' replay pools of 512 such crafts +{runs - store:,.0f} MB") in section
    sessions = json.loads((REPO / "bench" / "session_memory_results.json").read_text())
    assert (sessions["sessions"] == 256 and sessions["tool_calls"] == 15
            and f"256 WebSocket sessions each in an investigation after 15 tool calls +{sessions['rss_mb']['added']:,.0f} MB" in section)
