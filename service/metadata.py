"""What the service says about itself: ``/metadata`` (OpenEnv's EnvironmentMetadata) and the index at ``/``.

A browser that opens the server's root is sent to the demo (or to ``/docs`` when the demo is not mounted); any
other client gets a JSON index of the routes that matter, so ``curl http://host:8000/`` is never a dead end.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__

NAME = "opensoc"
DEMO_PATH = "/demo"
DESCRIPTION = (
    "Two-role security-incident environment: an attacker crafts a structured incident, a defender triages the SIEM "
    "alert (dismiss, monitor, quarantine_host, block_ip, escalate) citing a log id, and a deterministic verifier "
    "scores both from the structured events alone."
)
README = Path(__file__).resolve().parent.parent / "README.md"


class EnvironmentInfo(BaseModel):
    """OpenEnv's ``EnvironmentMetadata``, filled in: what ``GET /metadata`` answers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The environment's name, as in openenv.yaml.")
    description: str = Field(description="One paragraph on what the environment is.")
    readme_content: str | None = Field(description="The README shipped with the package (Markdown).")
    version: str = Field(description="The package version; /openapi.json and `opensoc --version` report the same.")
    author: str | None = Field(description="Who publishes the environment.")
    documentation_url: str | None = Field(description="This server's interactive API documentation.")


class ServiceIndex(BaseModel):
    """What ``GET /`` answers a client that does not ask for HTML."""

    name: str = Field(description="The environment's name.")
    version: str = Field(description="The package version.")
    description: str = Field(description="One paragraph on what the environment is.")
    links: dict[str, str] = Field(description="Where to go next, by purpose: route paths on this server.")


def wants_html(accept: str) -> bool:
    """Whether an Accept header asks for a page rather than data (what browsers send)."""
    return "text/html" in accept.lower()


@lru_cache(maxsize=1)
def readme_text() -> str | None:
    """The packaged README, read once; ``None`` when the installation left it out."""
    return README.read_text(encoding="utf-8") if README.is_file() else None


def environment_info(base_url: str) -> EnvironmentInfo:
    """``/metadata``'s answer for a server reached at ``base_url`` (the docs URL is absolute, on this server)."""
    return EnvironmentInfo(name=NAME, description=DESCRIPTION, readme_content=readme_text(), version=__version__,
                           author="OpenSOC", documentation_url=base_url.rstrip("/") + "/docs")


def service_index(landing: str) -> ServiceIndex:
    """The JSON index at ``/``; ``landing`` is where a browser would have been sent."""
    return ServiceIndex(name=NAME, version=__version__, description=DESCRIPTION, links={
        "start_here": landing, "api_docs": "/docs", "openapi": "/openapi.json", "health": "/health",
        "metadata": "/metadata", "schema": "/schema", "tasks": "/tasks", "task_api": f"/{NAME}/splits",
        "reset": "/reset", "step": "/step", "state": "/state", "websocket": "/ws", "mcp": "/mcp"})
