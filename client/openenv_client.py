"""OpenSOC as OpenEnv's ``AutoEnv`` finds it: ``OpensocEnv``, ``OpensocAction`` and ``OpensocObservation``, the
names OpenEnv infers.

openenv 0.10's ``AutoEnv.from_env("opensoc")`` reads no entry points: it lists the installed distributions named
``openenv-<module>``, reads ``<module>/openenv.yaml`` (``name: opensoc``) and imports ``OpensocEnv`` from
``<module>.client`` (and ``OpensocAction`` for ``AutoAction``). This package's distribution is named ``opensoc``,
so the code-free distribution in ``examples/openenv-opensoc`` (``pip install ./examples/openenv-opensoc``) is
what registers it; then::

    from openenv import AutoEnv

    with AutoEnv.from_env("opensoc", base_url="http://localhost:8000").sync() as env:
        env.reset(task="stage1_basic", seed=1)
        print(env.step({"submit_triage": {"action": "monitor", "cited_log_id": "L1-0"}}).reward)

``OpensocEnv`` is OpenEnv's ``GenericEnvClient`` (dict observations) that also sends ``$OPENSOC_API_TOKEN`` when
set and takes OpenSOC's typed actions (``SubmitTriage``, ``IncidentParams``) as well as dicts. It needs OpenEnv's
client: ``pip install -e '.[openenv]'``.
"""

from __future__ import annotations

from typing import Any

from openenv.core.generic_client import GenericAction, GenericEnvClient

from .http import _action_body, auth_headers


class OpensocEnv(GenericEnvClient):
    """OpenEnv's client for an OpenSOC server (``AutoEnv.from_env("opensoc", base_url=...)`` builds one)."""

    def __init__(self, base_url: str | None = None, *args: Any, token: str | None = None,
                 headers: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(base_url, *args, headers={**auth_headers(token), **(headers or {})} or None, **kwargs)

    def _step_payload(self, action: Any) -> dict[str, Any]:
        return _action_body(action)


class OpensocAction(GenericAction):
    """One OpenSOC action as keywords: ``OpensocAction(submit_triage={"action": "monitor", "cited_log_id": "L1-0"})``,
    ``craft_incident=...``, ``classify_flow=...`` or ``tool_call=...``."""


# What OpensocEnv's results carry as their observation: the JSON object the server sent (its ``family`` says which
# fields it holds; ``opensoc.families.registry.observation_adapter()`` validates one into the typed model).
OpensocObservation = dict
