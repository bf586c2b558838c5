"""What OpenSOC says about itself agrees everywhere: one version, its licence, its README, and a useful root."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
import yaml
from fastapi.testclient import TestClient
from support import REPO

import opensoc
from opensoc.app_runtime import create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.mark.slow
def test_one_version_everywhere(client):
    v = opensoc.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    assert "version" in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dynamic"]
    assert version("opensoc") == v  # what pip installed, built from the same attribute
    assert yaml.safe_load((REPO / "openenv.yaml").read_text())["version"] == v
    assert client.get("/openapi.json").json()["info"]["version"] == v
    assert client.get("/metadata").json()["version"] == v
    mcp = client.post("/mcp", json={"jsonrpc": "2.0", "method": "initialize", "id": 1}).json()
    assert mcp["result"]["serverInfo"] == {"name": "opensoc", "version": v}
    cli = subprocess.run([sys.executable, "-m", "opensoc.cli", "--version"], capture_output=True, text=True, check=True)
    assert cli.stdout.strip() == f"opensoc {v}"
    first_release = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert first_release and first_release.group(1) == v


def test_licence_is_stated_where_people_look():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}
    front = (REPO / "README.md").read_text().split("---")[1]
    assert yaml.safe_load(front)["license"] == "mit"


def test_the_package_is_typed_and_ships_its_readme():
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["opensoc"]
    assert {"py.typed", "README.md"} <= set(package_data)
    assert (REPO / "py.typed").is_file()


def test_metadata_carries_the_readme_and_the_docs(client):
    meta = client.get("/metadata").json()
    assert meta["readme_content"] == (REPO / "README.md").read_text(encoding="utf-8")
    assert meta["documentation_url"] == "http://testserver/docs"
    assert client.get("/docs").status_code == 200


def test_root_sends_a_browser_somewhere_and_answers_a_client(client):
    page = client.get("/", headers={"accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == "/docs"  # no demo mounted on the bare API
    index = client.get("/", headers={"accept": "application/json"})
    assert index.status_code == 200 and index.json()["version"] == opensoc.__version__
    for path in ("/docs", "/health", "/metadata", "/schema", "/tasks"):
        assert path in index.json()["links"].values()
        assert client.get(path).status_code == 200
    assert client.get("/?x=1").status_code == 422  # an unknown parameter is named, not ignored


@pytest.mark.slow
def test_root_of_the_full_server_lands_on_the_demo(live_server):
    import httpx

    page = httpx.get(live_server + "/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == "/demo"
    landed = httpx.get(live_server + "/", headers={"accept": "text/html"}, follow_redirects=True)
    assert landed.status_code == 200 and "gradio" in landed.text.lower()
    assert json.loads(httpx.get(live_server + "/").text)["links"]["start_here"] == "/demo"


def test_ci_runs_exactly_the_readmes_test_command():
    """The README's last set-up command is what CI runs, character for character, and it ends in the verifiers 0.4
    stage, whose script exists and is executable; the fast suite comes before it, the first command a contributor
    meets."""
    import os

    setup = (REPO / "README.md").read_text(encoding="utf-8").split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    commands = [line for line in blocks[-1].splitlines() if line and not line.startswith("#")]
    assert len(commands) == 1 and "pytest" in commands[0]
    fast = [line for block in blocks[:-1] for line in block.splitlines() if line.startswith("pytest")]
    assert fast == ['pytest -m "not slow"']
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == commands[0]
    stage = REPO / commands[0].rsplit("&& ", 1)[1]
    assert stage.is_file() and os.access(stage, os.X_OK)
