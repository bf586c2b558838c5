"""The runnable examples, run as a user runs them against a live server: TRL's GRPO through
``environment_factory=OpenSOCDefenderEnv`` on the scratch model, and OpenEnv's ``AutoEnv.from_env("opensoc")``
after registering OpenSOC with ``examples/openenv-opensoc``. (``examples/clients.py`` runs in test_client.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from support import REPO

pytestmark = pytest.mark.slow  # a server, subprocesses, a few training steps

EXAMPLES = REPO / "examples"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENSOC_URL", "OPENSOC_API_TOKEN", "PYTHONPATH")}
    return env | extra


def test_the_trl_grpo_example_trains_against_the_service(live_server, tmp_path):
    pytest.importorskip("trl")
    out = tmp_path / "model"
    ran = subprocess.run([sys.executable, str(EXAMPLES / "trl_grpo_scratch.py"), "--url", live_server, "--steps", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env=_environment())
    assert ran.returncode == 0, ran.stderr[-3000:]
    steps = [line for line in ran.stdout.splitlines() if line.startswith("step ")]
    assert len(steps) == 2 and all("mean reward from the service" in line for line in steps)
    rewards = [float(line.rsplit(" ", 1)[1]) for line in steps]
    assert all(-1.0 <= r <= 1.1 for r in rewards)  # the defender reward's range: the service scored each rollout
    assert f"2 GRPO steps against {live_server}" in ran.stdout
    assert (out / "model.safetensors").stat().st_size > 0 and json.loads((out / "config.json").read_text())


AUTOENV = """
import sys
from openenv import AutoAction, AutoEnv

url = sys.argv[1]
try:
    env = AutoEnv.from_env("opensoc", base_url=url)
except ValueError as exc:
    print("not found:", str(exc).splitlines()[0])
    sys.exit(3)
Action = AutoAction.from_env("opensoc")
print(type(env).__module__, type(env).__name__, Action.__name__)
with env.sync() as client:
    first = client.reset(task="stage1_basic", seed=1)
    event = first.observation["alert"]["events"][0]["log_id"]
    result = client.step(Action(submit_triage={"action": "monitor", "cited_log_id": event, "rationale": "autoenv"}))
    print(first.observation["task"], result.done, result.reward)
"""


def test_autoenv_finds_opensoc_once_registered(live_server, tmp_path):
    pytest.importorskip("openenv")
    # OpenEnv's discovery cache lives in the user's cache folder: each run here gets an empty one.
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    script = tmp_path / "autoenv.py"
    script.write_text(AUTOENV)

    unregistered = subprocess.run([sys.executable, str(script), live_server], capture_output=True, text=True,
                                  timeout=120, env=_environment(**cache))
    assert unregistered.returncode == 3 and "not found" in unregistered.stdout, unregistered.stderr

    # The registration as a user installs it (pip install ./examples/openenv-opensoc), into a folder of its own here
    # so that the test leaves the environment as it found it; the build happens in a copy, outside the checkout.
    shim = tmp_path / "openenv-opensoc"
    shutil.copytree(EXAMPLES / "openenv-opensoc", shim)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
                    str(tmp_path / "site"), str(shim)], check=True, timeout=300, env=_environment(**cache))
    registered_env = _environment(PYTHONPATH=str(tmp_path / "site"), **cache)

    # OpenEnv keeps what it discovered in ~/.cache/openenv/discovery_cache.json and trusts it over what is installed:
    # the run before the registration left "no environments" there, so the README says to delete that file.
    stale = subprocess.run([sys.executable, str(script), live_server], capture_output=True, text=True, timeout=120,
                           env=registered_env)
    assert stale.returncode == 3 and (tmp_path / "cache" / "openenv" / "discovery_cache.json").is_file()
    (tmp_path / "cache" / "openenv" / "discovery_cache.json").unlink()

    registered = subprocess.run([sys.executable, str(script), live_server], capture_output=True, text=True,
                                timeout=120, env=registered_env)
    assert registered.returncode == 0, registered.stdout + registered.stderr
    found, played = registered.stdout.splitlines()[-2:]
    assert found == "opensoc.client.openenv_client OpensocEnv OpensocAction"
    task, done, reward = played.split()
    assert (task, done) == ("stage1_basic", "True") and -1.0 <= float(reward) <= 1.1
