"""The evaluation harness: frozen data, policies, metrics, runs and reports.

Modules: ``frozen`` (hold-out and SFT files), ``policies`` (baselines and the LLM policy),
``llm`` (OpenAI-compatible client with cache and retries), ``metrics``, ``runner`` (in-process
or over HTTP), ``report`` (results JSON, markdown, records, plots).
"""
