"""The before-vs-after demo: a Gradio Blocks app that ``server.py`` mounts at ``/demo``.

Tabs: Incident (a generated or baked incident, its log window, both defenders' decisions,
the ground truth and rewards), Attacker (paste or edit a craft_incident and see how it
fares), Investigation (an investigation replayed step by step), Results (the evaluation and
training plots). Everything shown comes from
``demo.data``; this module only lays it out.
"""

from __future__ import annotations

import gradio as gr

from .demo import data as dd
from .demo.replay import investigation_replay
from .families.investigation.tasks import INVESTIGATION_TASKS
from .tasks.registry import TASKS

STAGES = list(TASKS)
INVESTIGATIONS = list(INVESTIGATION_TASKS)

# One font family at every weight. Gradio's default theme declares Source Sans Pro and IBM Plex Mono at weights 400
# and 600, but the SemiBold files it ships (Gradio 6.31) hold a handful of glyphs ("A", "B"), so every bold heading,
# label and button fell back to another font letter by letter ("LSᴀSS", "ʙaseline"). These faces give both
# families their full Regular and Bold files under names of their own, and point the theme's font variables at them:
# a request for 600 then renders with Bold, never with the broken file. The theme is fixed where the app is mounted
# (server.py), so the override travels with the page, in an element that takes no room; ``html:root`` outranks the
# theme's ``:root``.
FONT_STYLE = "<style>" + "".join(
    f"@font-face{{font-family:'{family}';src:url('static/fonts/{folder}/{folder}-{face}.woff2') format('woff2');"
    f"font-weight:{weight};font-style:normal}}"
    for family, folder in (("OpenSOC Sans", "SourceSansPro"), ("OpenSOC Mono", "IBMPlexMono"))
    for face, weight in (("Regular", 400), ("Bold", 700))
) + ("html:root,html:root .dark{--font:'OpenSOC Sans',ui-sans-serif,system-ui,sans-serif;"
     "--font-mono:'OpenSOC Mono',ui-monospace,Consolas,monospace}#font-faces{display:none}</style>")


def _show(case: dd.DemoCase) -> tuple[str, str, str, str, str]:
    return (dd.alert_markdown(case), dd.log_window_html(case), dd.decision_markdown(case.before, case.truth_action),
            dd.decision_markdown(case.after, case.truth_action), dd.truth_markdown(case))


def next_incident(stage: str, source: str, seed: int, index: int):
    """Advance to the next incident; returns the page's new contents and counters."""
    if source == "baked" and dd.baked_cases():
        cases = [c for c in dd.baked_cases() if c.title.startswith(stage)] or list(dd.baked_cases())
        index = (index + 1) % len(cases)
        return (*_show(cases[index]), seed, index)
    seed = int(seed) + 1
    return (*_show(dd.live_case(stage, seed)), seed, index)


def replay_step(task: str, seed: int, index: int, delta: int):
    """Move through an investigation replay; returns the step's title, text, events and the new index."""
    replay = investigation_replay(task, int(seed or 0))
    index = max(0, min(len(replay.steps) - 1, int(index) + delta))
    step = replay.steps[index]
    return f"### {step.title} ({index + 1} of {len(replay.steps)})", step.markdown, step.events_html, index


def check_incident(text: str) -> tuple[str, str]:
    result = dd.check_craft(text or "")
    return (result.message, "") if result.ok else ("", result.message)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="OpenSOC demo") as demo:
        gr.HTML(FONT_STYLE, elem_id="font-faces")
        gr.Markdown("# OpenSOC: before vs after\nA SIEM alert with its log window, triaged by the baseline (`heuristic`, "
                    "a SOC playbook) and by the trained defender (`cpu_defender`, trained on a CPU from the "
                    "environment's reward), scored by the deterministic verifier.")
        with gr.Tab("Incident"):
            with gr.Row():
                stage = gr.Dropdown(STAGES, value="stage3_mixed", label="Stage")
                source = gr.Radio(["live", "baked"], value="live", label="Incidents")
                next_btn = gr.Button("Next incident", variant="primary", elem_id="next-incident")
            seed, index = gr.State(0), gr.State(-1)
            first = dd.live_case("stage3_mixed", 0)
            alert_md = gr.Markdown(dd.alert_markdown(first), elem_id="alert-header")
            with gr.Row():
                before_md = gr.Markdown(dd.decision_markdown(first.before, first.truth_action), elem_id="baseline-decision")
                after_md = gr.Markdown(dd.decision_markdown(first.after, first.truth_action), elem_id="trained-decision")
                truth_md = gr.Markdown(dd.truth_markdown(first), elem_id="ground-truth")
            log_html = gr.HTML(dd.log_window_html(first), elem_id="log-window-panel")
            next_btn.click(next_incident, [stage, source, seed, index],
                           [alert_md, log_html, before_md, after_md, truth_md, seed, index])
        with gr.Tab("Attacker", elem_id="attacker-tab"):
            gr.Markdown("Edit or paste a `craft_incident` JSON, or start from a generated one, then check it.")
            with gr.Row():
                ex_stage = gr.Dropdown(STAGES, value="stage2_multi", label="Start from a generated incident of")
                ex_seed = gr.Number(value=1, precision=0, label="seed")
                load_btn = gr.Button("Load generated incident", elem_id="load-example")
            craft = gr.Code(value=dd.example_craft("stage2_multi", 1), language="json", label="craft_incident",
                            elem_id="craft-json")
            check_btn = gr.Button("Check incident", variant="primary", elem_id="check-incident")
            verdict = gr.Markdown(elem_id="attacker-verdict")
            error = gr.Markdown(elem_id="attacker-error")
            load_btn.click(lambda s, n: dd.example_craft(s, int(n or 0)), [ex_stage, ex_seed], craft)
            check_btn.click(check_incident, craft, [verdict, error])
        with gr.Tab("Investigation", elem_id="investigation-tab"):
            gr.Markdown("The scripted investigator on a case: the alert it starts from, each tool call and what it "
                        "showed (evidence highlighted), and its triage.")
            with gr.Row():
                inv_task = gr.Dropdown(INVESTIGATIONS, value="investigate_stage3", label="Task")
                inv_seed = gr.Number(value=7, precision=0, label="seed")
                prev_btn = gr.Button("Previous step", elem_id="replay-prev")
                step_btn = gr.Button("Next step", variant="primary", elem_id="replay-next")
            inv_index = gr.State(0)
            title, text, events = replay_step("investigate_stage3", 7, 0, 0)[:3]
            inv_title = gr.Markdown(title, elem_id="replay-title")
            inv_text = gr.Markdown(text, elem_id="replay-text")
            inv_events = gr.HTML(events, elem_id="replay-events")
            outputs = [inv_title, inv_text, inv_events, inv_index]
            step_btn.click(lambda t, s, i: replay_step(t, s, i, 1), [inv_task, inv_seed, inv_index], outputs)
            prev_btn.click(lambda t, s, i: replay_step(t, s, i, -1), [inv_task, inv_seed, inv_index], outputs)
            inv_task.change(lambda t, s: replay_step(t, s, 0, 0), [inv_task, inv_seed], outputs)
            inv_seed.change(lambda t, s: replay_step(t, s, 0, 0), [inv_task, inv_seed], outputs)
        with gr.Tab("Results"):
            for label, path in dd.RESULT_IMAGES:
                if path.is_file():
                    gr.Image(str(path), label=label, show_label=True, interactive=False)
    return demo
