"""The Dockerfile, checked without Docker: its paths and port agree with the code, and its install and CMD,
replayed in a fresh virtual environment, serve /health, /reset and /demo."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml
from support import REPO
from support.server import free_port, wait_healthy

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _one(name: str) -> str:
    (value,) = [v for k, v in _instructions() if k == name]
    return value


def test_dockerfile_agrees_with_the_code():
    assert _one("FROM") == "python:3.11-slim"
    assert _one("EXPOSE") == "8000"
    assert yaml.safe_load((REPO / "openenv.yaml").read_text())["port"] == 8000
    assert 'os.environ.get("PORT", "8000")' in (REPO / "server.py").read_text()
    assert "/health" in _one("HEALTHCHECK")
    user = _one("USER")
    assert user not in ("root", "0")
    cmd = json.loads(_one("CMD"))
    assert cmd == ["python", "server.py"] and (REPO / cmd[1]).is_file()
    install = next(v for k, v in _instructions() if k == "RUN" and "pip install" in v)
    assert "[train]" not in install and "[dev]" not in install
    assert _one("WORKDIR") == "/app" and _one("COPY").split()[-2:] == [".", "/app"]
    front = (REPO / "README.md").read_text().split("---")[1]
    meta = yaml.safe_load(front)
    assert (meta["sdk"], meta["app_port"], meta["base_path"]) == ("docker", 8000, "/demo") and "openenv" in meta["tags"]


@pytest.fixture(scope="module")
def image_like(tmp_path_factory):
    """The repository's tracked files in a fresh folder (what COPY sees in a clean checkout) and a fresh venv
    with the Dockerfile's install replayed into it."""
    app = tmp_path_factory.mktemp("app")
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    ignored = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip()]
    for f in files:
        if any(f == p or f.startswith(p.rstrip("/") + "/") for p in ignored):
            continue
        (app / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, app / f)
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = next(v for k, v in _instructions() if k == "RUN" and "pip install" in v)
    argv = [str(venv / "bin" / "python"), "-m"] + [str(app) + a[len("/app"):] if a == "/app" or a.startswith("/app/")
                                                   else a for a in shlex.split(install)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return app, venv


@pytest.mark.slow
@pytest.mark.e2e
def test_replayed_image_serves(image_like, tmp_path):
    app, venv = image_like
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PORT=str(port), HOST="127.0.0.1", HOME=str(tmp_path))
    cmd = json.loads(_one("CMD"))
    proc = subprocess.Popen([str(venv / "bin" / cmd[0]), *cmd[1:]], cwd=app, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout_s=120)
        assert httpx.get(f"{url}/health").json() == {"status": "healthy"}
        reset = httpx.post(f"{url}/reset", json={"task": "stage2_multi", "seed": 3})
        assert reset.status_code == 200 and reset.json()["observation"]["alert"]["events"]
        demo = httpx.get(f"{url}/demo/", follow_redirects=True)
        assert demo.status_code == 200 and "gradio" in demo.text.lower()
        installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import opensoc, sys; print(opensoc.__file__)"],
                                   capture_output=True, text=True, cwd=tmp_path, env=env).stdout
        assert str(venv) in installed  # the copy in site-packages serves, not the source folder
        trl = subprocess.run([str(venv / "bin" / "python"), "-c", "import trl"], capture_output=True, env=env)
        assert trl.returncode != 0  # no training extras in the image
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pins(text: str) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned and not any(c in pinned for c in "<>=!~ ;"), f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = pinned.strip()
    return pins


@pytest.mark.slow
@pytest.mark.e2e
def test_constraints_pin_exactly_what_the_image_installs(image_like):
    """The lock is complete (every installed distribution), exact, consistent (pip check) and within pyproject's
    ranges; the replayed install above used it, as the Dockerfile does."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    install = next(v for k, v in _instructions() if k == "RUN" and "pip install" in v)
    assert "-c /app/constraints/docker.txt" in install
    pins = _pins((REPO / "constraints" / "docker.txt").read_text())
    _, venv = image_like
    frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude", "opensoc"],
                            capture_output=True, text=True, check=True).stdout
    assert _pins(frozen) == pins
    check = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    import tomllib

    for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), (spec, pins[canonicalize_name(req.name)])


def test_deploy_dry_run_lists_the_space_files():
    proc = subprocess.run(["bash", "scripts/deploy_to_hf.sh", "someone/opensoc", "--dry-run"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "HF_TOKEN": ""})
    assert proc.returncode == 0, proc.stderr
    listed = {line.strip() for line in proc.stdout.splitlines()[1:]}
    assert {"Dockerfile", "README.md", "server.py", "demo_app.py", "data/demo_examples.json"} <= listed
    assert not any(f.startswith(("tests/", ".ci/", "bench/")) for f in listed)
    assert proc.stdout.startswith("dry run: would create or update the Docker Space someone/opensoc")
    assert proc.stdout.rstrip().endswith("and delete every other file the Space holds, except .gitattributes")
    assert "constraints/docker.txt" in listed


@pytest.mark.parametrize("args", [["no-namespace", "--dry-run"], ["someone/opensoc", "--dryrun"],
                                  ["someone/opensoc", "dry-run"], ["someone/opensoc", "--dry-run", "--force"],
                                  ["--dry-run", "someone/opensoc"], ["someone/open soc", "--dry-run"], []])
def test_deploy_refuses_any_other_arguments_before_sending_anything(args, tmp_path):
    # No HF_TOKEN and no network: were an argument taken as "upload for real", the run would fail differently.
    proc = subprocess.run(["bash", "scripts/deploy_to_hf.sh", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "HF_TOKEN": ""})
    assert proc.returncode == 2 and "usage:" in proc.stderr and not proc.stdout, proc.stderr


def test_deploy_runs_on_python3_alone(tmp_path):
    """Debian has no ``python`` command: the script must need only ``python3``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, target in (("python3", sys.executable), ("git", shutil.which("git")), ("dirname", shutil.which("dirname"))):
        (bin_dir / tool).symlink_to(target)
    proc = subprocess.run([shutil.which("bash"), "scripts/deploy_to_hf.sh", "someone/opensoc", "--dry-run"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir), "HF_TOKEN": ""})
    assert proc.returncode == 0 and proc.stdout.startswith("dry run:"), proc.stderr
