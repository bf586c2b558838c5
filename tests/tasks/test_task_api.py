"""OpenEnv's Task API: the same answers OpenEnv's own server gives for our catalog, and resets that start the task."""

from __future__ import annotations

import json

import httpx
import pytest
from support.server import ThreadedApp

from opensoc.app_runtime import create_app
from opensoc.families.e1.tasks import E1_TASKS
from opensoc.families.investigation.tasks import INVESTIGATION_TASKS
from opensoc.generator import generate
from opensoc.tasks.catalog import CATALOG
from opensoc.tasks.frozen import HOLDOUT_PATH, INVESTIGATION_HOLDOUT_PATH
from opensoc.tasks.registry import TASKS
from opensoc.tasks.seeds import TRAIN_SEEDS_PER_TASK, TRAIN_SEEDS_START
from opensoc.verifier import compute_ground_truth

openenv = pytest.importorskip("openenv")
from openenv.core.env_server.http_server import create_fastapi_app  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import Action, Observation, State  # noqa: E402
from openenv.core.generic_client import GenericEnvClient  # noqa: E402


class CatalogOnlyEnv(Environment):
    """An OpenEnv environment whose only behaviour is OpenSOC's catalog, so OpenEnv's server answers the Task API."""

    def reset(self, seed=None, episode_id=None, **kwargs):
        return Observation()

    def step(self, action, timeout_s=None, **kwargs):
        return Observation(done=True, reward=0.0)

    @property
    def state(self):
        return State()

    list_splits = staticmethod(CATALOG.list_splits)
    list_tasks = staticmethod(CATALOG.list_tasks)
    num_tasks = staticmethod(CATALOG.num_tasks)
    get_task = staticmethod(CATALOG.get_task)
    get_task_range = staticmethod(CATALOG.get_task_range)


@pytest.fixture(scope="module")
def servers():
    """(OpenEnv's reference server over the catalog, OpenSOC's server)."""
    reference = create_fastapi_app(CatalogOnlyEnv, Action, Observation, env_name="opensoc")
    with ThreadedApp(reference) as ref, ThreadedApp(create_app()) as ours:
        yield f"http://127.0.0.1:{ref.port}", f"http://127.0.0.1:{ours.port}"


REQUESTS = [
    ("GET", "/list_environments", None),
    ("GET", "/opensoc/splits", None),
    ("GET", "/OpenSOC/splits", None),
    ("POST", "/opensoc/num_tasks", {"split": "train"}),
    ("POST", "/opensoc/tasks", {"split": "holdout"}),
    ("POST", "/opensoc/tasks", {"split": "e1_iot23:dev"}),
    ("POST", "/opensoc/task", {"split": "train", "index": 4321}),
    ("POST", "/opensoc/task", {"split": "investigation", "index": 79}),
    ("POST", "/opensoc/task", {"split": "e1_cic_ood:ood", "index": 0}),
    ("POST", "/opensoc/task_range", {"split": "train", "start": 995, "stop": 1005}),
    ("POST", "/opensoc/task_range", {"split": "holdout", "start": -3}),
    ("POST", "/opensoc/task_range", {"split": "e1_unsw_ood:ood"}),
    ("POST", "/opensoc/task", {"split": "holdout", "index": 200}),  # past the end: 400 on both
    ("POST", "/opensoc/num_tasks", {"split": "holdout"}),
    ("GET", "/other_env/splits", None),  # another environment's name: 404 on both
]


@pytest.mark.parametrize("method,path,body", REQUESTS)
def test_answers_match_openenvs_own_server(servers, method, path, body):
    reference, ours = servers
    want = httpx.request(method, reference + path, json=body, timeout=60)
    got = httpx.request(method, ours + path, json=body, timeout=60)
    assert got.status_code == want.status_code, (got.text[:300], want.text[:300])
    if want.status_code == 200:
        assert got.json() == want.json()
    else:  # OpenSOC's error body keeps OpenEnv's "detail" and adds the field and what it expected
        assert isinstance(got.json()["detail"], str) and got.json()["error"]["field"] in ("index", "env_name")


def test_splits_cover_every_curriculum_task_and_the_holdouts():
    splits = {s["name"]: s for s in CATALOG.list_splits()}
    assert splits["train"]["type"] == "train" and splits["holdout"]["type"] == "test"
    train = CATALOG.list_tasks("train")
    assert len(train) == TRAIN_SEEDS_PER_TASK * (len(TASKS) + len(INVESTIGATION_TASKS))
    assert {t["task"] for t in train} == set(TASKS) | set(INVESTIGATION_TASKS)
    assert {t["seed"] for t in train} == set(range(TRAIN_SEEDS_START, TRAIN_SEEDS_START + TRAIN_SEEDS_PER_TASK))
    assert all(t["difficulty"] == (TASKS.get(t["task"]) or INVESTIGATION_TASKS[t["task"]]).stage and
               t["group"] == t["task"] for t in train)
    assert [t["index"] for t in train] == list(range(len(train)))
    frozen = [json.loads(line) for line in HOLDOUT_PATH.read_text().splitlines()]
    assert [t["id"] for t in CATALOG.list_tasks("holdout")] == [r["id"] for r in frozen]
    investigation = [json.loads(line) for line in INVESTIGATION_HOLDOUT_PATH.read_text().splitlines()]
    assert [t["id"] for t in CATALOG.list_tasks("investigation")] == [r["id"] for r in investigation]
    for name, spec in E1_TASKS.items():
        for part in spec.splits:
            tasks = CATALOG.list_tasks(f"{name}:{part}")
            assert tasks and all(t["data_tier"] and t["family"] == "e1" for t in tasks)
    assert not any(k in json.dumps(train[:50]) for k in ("gold_action", "triggering_log_ids"))  # no answer leaks


@pytest.mark.slow
def test_a_task_resets_to_exactly_its_episode_on_every_transport(live_server):
    entry = CATALOG.entry("holdout", 137)
    truth = compute_ground_truth(generate(entry.task, entry.seed))
    with GenericEnvClient(base_url=live_server).sync() as env:
        first = env.reset(split="holdout", index=137, episode_id="task-api-1")
        assert (first.observation["task"], first.observation["seed"]) == (entry.task, entry.seed)
        end = env.step({"submit_triage": {"action": truth.action, "cited_log_id": truth.triggering_log_ids[0],
                                          "rationale": "task api"}})
        assert end.done and end.reward == pytest.approx(1.1)
        state = env.state()
        assert (state["episode_id"], state["step_count"], state["seed"]) == ("task-api-1", 1, entry.seed)
    over_http = httpx.post(f"{live_server}/reset", json={"split": "train", "index": 7999}).json()["observation"]
    last = CATALOG.entry("train", 7999)
    assert (over_http["task"], over_http["seed"]) == (last.task, last.seed) == ("investigate_stage4", TRAIN_SEEDS_START + 999)
    e1 = httpx.post(f"{live_server}/reset?split=e1_iot23:test&index=5").json()["observation"]
    assert e1["flow"]["split"] == "test:eval" and e1["flow"]["index"] == 5


@pytest.mark.parametrize("body,field", [
    ({"split": "holdout", "index": 0, "task": "stage1_basic"}, "task"),
    ({"split": "holdout", "index": 0, "seed": 3}, "seed"),
    ({"index": 0}, "split"),
    ({"split": "trian", "index": 0}, "split"),
])
def test_a_bad_choice_is_refused_naming_the_field(servers, body, field):
    response = httpx.post(servers[1] + "/reset", json=body)
    assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text


@pytest.mark.parametrize("path,body,status,field", [
    ("/opensoc/tasks", {"split": "trian"}, 422, "split"),
    ("/opensoc/task", {"split": "holdout"}, 422, "index"),
    ("/opensoc/task", {"split": "holdout", "index": "3"}, 422, "index"),
    ("/opensoc/num_tasks", {"split": "holdout", "extra": 1}, 422, "extra"),
    ("/opensoc/num_tasks", None, 422, "split"),
])
def test_bad_task_api_requests_are_4xx_naming_the_field(servers, path, body, status, field):
    response = httpx.post(servers[1] + path, json=body)
    assert response.status_code == status and response.json()["error"]["field"] == field, response.text


def test_a_reset_index_past_the_split_is_400_naming_the_range():
    from fastapi.testclient import TestClient

    from opensoc.app_runtime import ServiceSettings

    client = TestClient(create_app(ServiceSettings.from_env()))
    size = CATALOG.num_tasks("holdout")
    answer = client.post("/reset", json={"split": "holdout", "index": size})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("INDEX_OUT_OF_RANGE", "index")
    assert error["expected"] == f"an integer from 0 to {size - 1}"
    assert client.post("/reset", json={"split": "holdout", "index": size - 1}).status_code == 200
