"""An OpenAI-compatible chat client for evaluation: concurrency, timeouts, retries, on-disk cache.

Works with any server that speaks ``POST {base_url}/chat/completions`` (vLLM, Ollama, hosted
APIs). Answers are cached by the SHA-256 of (model, prompt, sampling settings), so a rerun
is free and returns the same text. Connection errors, timeouts, retryable HTTP statuses and
unreadable response bodies are retried with exponential backoff; a request that still fails
yields a ``RequestFailure`` holding the last error's text, never a model answer: the harness
records that text, scores the episode as a format violation and, unless told to allow
failures, the command exits non-zero. A well-formed response whose text the parser cannot
read is the model's own format violation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RequestFailure:
    """A request the endpoint never answered after its retries; ``error`` is the last attempt's error text."""

    error: str


def _http_error(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} from {response.request.url}: {response.text[:300]}"


def _choice_message(response: httpx.Response) -> dict | None:
    """The first choice's message of a chat completion, or ``None`` when the body holds none."""
    try:
        message = response.json()["choices"][0]["message"]
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    return message if isinstance(message, dict) else None


@dataclass
class LLMStats:
    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    failures: int = 0


@dataclass
class ChatClient:
    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 0.5
    temperature: float = 0.0
    max_tokens: int = 512
    cache_dir: Path | None = None
    stats: LLMStats = field(default_factory=LLMStats)

    def _key(self, prompt: str) -> str:
        blob = json.dumps({"model": self.model, "prompt": prompt, "temperature": self.temperature,
                           "max_tokens": self.max_tokens}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cached(self, key: str) -> str | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"{key}.json"
        return json.loads(path.read_text())["text"] if path.exists() else None

    def _store(self, key: str, text: str) -> None:
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_dir / f"{key}.json.tmp"
            tmp.write_text(json.dumps({"model": self.model, "text": text}))
            tmp.replace(self.cache_dir / f"{key}.json")  # atomic: a crash never leaves half a cache entry

    def _headers(self) -> dict:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def _post(self, http: httpx.AsyncClient, body: dict) -> dict | RequestFailure:
        """The first choice's message for ``body``, or the failure of the last of ``retries + 1`` attempts.

        Retried: connection errors, timeouts, ``RETRY_STATUS`` answers and bodies without a choice's message. Other
        HTTP errors (a wrong model name, a missing key) fail at once, since a retry gets the same answer.
        """
        for attempt in range(self.retries + 1):
            self.stats.requests += 1
            try:
                r = await http.post("/chat/completions", json=body, headers=self._headers())
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                url = str(http.base_url).rstrip("/") + "/chat/completions"
                error, retry = f"{type(exc).__name__} on POST {url}" + (f": {exc}" if str(exc) else ""), True
            else:
                message = _choice_message(r) if r.status_code < 400 else None
                if message is not None:
                    return message
                retry = r.status_code in RETRY_STATUS or r.status_code < 400
                error = _http_error(r) if r.status_code >= 400 else f"unreadable response from {r.request.url}: {r.text[:300]}"
            if not retry or attempt == self.retries:
                self.stats.failures += 1
                return RequestFailure(error)
            self.stats.retries += 1
            await asyncio.sleep(self.backoff_s * 2 ** attempt)  # backoff between attempts, not synchronisation
        raise AssertionError("unreachable: the last attempt returns")

    async def _one(self, http: httpx.AsyncClient, gate: asyncio.Semaphore, prompt: str) -> str | RequestFailure:
        key = self._key(prompt)
        cached = self._cached(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                "temperature": self.temperature, "max_tokens": self.max_tokens}
        async with gate:
            message = await self._post(http, body)
        if isinstance(message, RequestFailure):
            return message  # never cached: a rerun asks again
        text = message.get("content") or ""
        self._store(key, text)
        return text

    async def complete_all(self, prompts: list[str], progress=None) -> list[str | RequestFailure]:
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s) as http:
            tasks = [asyncio.ensure_future(self._one(http, gate, p)) for p in prompts]
            if progress is not None:
                for fut in asyncio.as_completed(tasks):
                    await fut
                    progress.update(1)
            return list(await asyncio.gather(*tasks))
