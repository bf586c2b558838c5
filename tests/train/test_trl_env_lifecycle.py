"""The TRL environment classes' lifecycle: a script holding one exits promptly, a connection the server closed is
reopened once and the episode resumed, the API token is sent, and an environment survives pickling."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from support import REPO
from support.server import free_port, running_server, wait_healthy

from opensoc.client import OpenSOCError
from opensoc.families.triage.family import materialized_incident
from opensoc.train.trl_env import (
    CLOSE_TIMEOUT_S,
    OpenSOCDefenderEnv,
    OpenSOCInvestigatorEnv,
)

pytestmark = pytest.mark.slow  # servers that are started, idled out and stopped

TOKEN = "lifecycle-token-0123456789"
IDLE_S = "1"

# A script that keeps environments at module level, as a training script keeps its trainer and the trainer its
# environments, and leaves them open.
ENVIRONMENTS = 6
MODULE_LEVEL_SCRIPT = textwrap.dedent(f"""
    import sys
    from opensoc.train.trl_env import OpenSOCDefenderEnv

    ENVS = [OpenSOCDefenderEnv(sys.argv[1]) for _ in range({ENVIRONMENTS})]
    for env in ENVS:
        env.reset(task="stage1_basic", seed=1)
    print("ready", flush=True)
    sys.stdin.readline()  # the test says when to exit
""")


@pytest.fixture(scope="module")
def idle_server():
    """A server that needs a token and closes a WebSocket session after 1 s without a message."""
    with running_server(OPENSOC_API_TOKEN=TOKEN, OPENSOC_WS_IDLE_S=IDLE_S) as url:
        yield url


@pytest.fixture
def with_token(monkeypatch):
    monkeypatch.setenv("OPENSOC_API_TOKEN", TOKEN)


def _wait_for_idle_close(env) -> None:
    """Block until the server's idle notice arrives on the environment's socket: the server has closed the session."""
    notice = env._session._ws.recv(timeout=30)
    assert '"SESSION_ERROR"' in notice


def _run_module_level_script(url: str, before_exit=None) -> tuple[subprocess.CompletedProcess, float]:
    proc = subprocess.Popen([sys.executable, "-c", MODULE_LEVEL_SCRIPT, url], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENSOC_API_TOKEN=TOKEN))
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        if before_exit is not None:
            before_exit()
        start = time.monotonic()
        out, err = proc.communicate("exit\n", timeout=30)  # the assertion: a hang fails here
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_script_with_a_module_level_environment_exits(idle_server):
    done, seconds = _run_module_level_script(idle_server)
    assert done.returncode == 0, done.stderr
    assert seconds < 10


def test_a_script_exits_when_the_server_stopped_answering():
    port = free_port()
    server = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              env=dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning",
                                       OPENSOC_API_TOKEN=TOKEN))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        # A frozen server never answers the closing handshake: the closes give up after one timeout in all (each after
        # its own, six would take six times as long).
        done, seconds = _run_module_level_script(url, before_exit=lambda: os.kill(server.pid, signal.SIGSTOP))
        assert done.returncode == 0, done.stderr
        assert CLOSE_TIMEOUT_S <= seconds < 3 * CLOSE_TIMEOUT_S < ENVIRONMENTS * CLOSE_TIMEOUT_S
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)


def test_the_token_is_sent(idle_server, with_token, monkeypatch):
    truth = materialized_incident("stage1_basic", 5).truth
    env = OpenSOCDefenderEnv(idle_server)  # the token comes from $OPENSOC_API_TOKEN, as under TRL
    env.reset(task="stage1_basic", seed=5)
    assert env.submit_triage(truth.action, truth.triggering_log_ids[0]) == f"Recorded: {truth.action}."
    monkeypatch.delenv("OPENSOC_API_TOKEN")
    with pytest.raises(OpenSOCError) as refused:  # where TRL builds its environments, saying what to set
        OpenSOCDefenderEnv(idle_server)
    assert (refused.value.code, refused.value.status) == ("UNAUTHORIZED", 401)
    assert "OPENSOC_API_TOKEN" in refused.value.message
    assert OpenSOCDefenderEnv(idle_server, token=TOKEN).reset(task="stage1_basic", seed=5) == "\n\n" + env._prompt


def test_a_defender_episode_survives_an_idle_close(idle_server, with_token):
    truth = materialized_incident("stage1_basic", 5).truth
    env = OpenSOCDefenderEnv(idle_server)
    env.reset(task="stage1_basic", seed=5)
    first = env._session._connection
    _wait_for_idle_close(env)
    assert env.submit_triage(truth.action, truth.triggering_log_ids[0]) == f"Recorded: {truth.action}."
    assert env.get_reward() == pytest.approx(1.1)  # scored on the same incident, on a new connection
    assert env._session._connection is not first


def test_an_investigation_resumes_with_its_tool_calls_after_an_idle_close(idle_server, with_token):
    from opensoc.families.investigation.case import build_case

    case = build_case("investigate_stage1", 4)
    target = case.truth.triggering_log_ids[0]
    env = OpenSOCInvestigatorEnv(idle_server)
    env.reset(task="investigate_stage1", seed=4)
    assert target in env.search(query=f"log_id={target}")
    _wait_for_idle_close(env)
    assert env.submit_triage(case.truth.action, target).startswith("Recorded")
    # The citation bonus needs the cited event to have been shown by a tool: the search was replayed.
    assert env.get_reward() == pytest.approx(1.1)


def test_a_second_close_is_not_retried_forever(with_token):
    with running_server(OPENSOC_API_TOKEN=TOKEN) as url:
        env = OpenSOCDefenderEnv(url)
        env.reset(task="stage1_basic", seed=5)
    # The server is gone: one reconnection is tried, and its failure is the caller's to see (still an OSError).
    with pytest.raises(OSError) as gone:
        env.submit_triage("dismiss", "L1-0")
    assert isinstance(gone.value, OpenSOCError) and gone.value.code == "SERVER_UNREACHABLE"
    assert url.split("//")[1] in gone.value.message and not env.done


def test_a_vanished_server_is_never_shown_to_the_investigator_as_a_refusal(with_token):
    from opensoc.train.trl_env import OpenSOCInvestigatorEnv

    with running_server(OPENSOC_API_TOKEN=TOKEN) as url:
        env = OpenSOCInvestigatorEnv(url)
        env.reset(task="investigate_stage1", seed=4)
        assert env.count(by="host").startswith("{")
    with pytest.raises(OpenSOCError) as gone:  # raised to the trainer, not returned to the model as "Refused: ..."
        env.search(query="host=DC01")
    assert gone.value.code == "SERVER_UNREACHABLE"


def test_a_pickled_environment_resumes_its_episode(idle_server, with_token):
    truth = materialized_incident("stage1_basic", 5).truth
    env = OpenSOCDefenderEnv(idle_server)
    env.reset(task="stage1_basic", seed=5)
    copy = pickle.loads(pickle.dumps(env))  # as TRL's async trainer sends it to its rollout process
    assert copy._session is None and copy._prompt == env._prompt
    assert copy.submit_triage(truth.action, truth.triggering_log_ids[0]) == f"Recorded: {truth.action}."
    assert copy.get_reward() == pytest.approx(1.1)
    assert env.submit_triage("dismiss", truth.triggering_log_ids[0]) == "Recorded: dismiss."  # the original is its own
    assert pickle.loads(pickle.dumps(OpenSOCDefenderEnv)) is OpenSOCDefenderEnv


def test_a_replay_that_differs_is_refused(idle_server, with_token):
    env = OpenSOCDefenderEnv(idle_server)
    env.reset(task="stage1_basic", seed=5)
    env._prompt = "not what the service shows"  # as if the incident behind the seed had changed since
    _wait_for_idle_close(env)
    with pytest.raises(OpenSOCError, match="another prompt"):
        env.submit_triage("dismiss", "L1-0")
