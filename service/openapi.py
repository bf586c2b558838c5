"""What ``/openapi.json`` says of the routes that read their own bodies: request schemas and query parameters.

Routes that parse a raw body (to bound and check it before pydantic sees it) would otherwise show none; these
helpers declare them, so documentation, fuzzers and client generators see every field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema


def components(models: list[type[BaseModel]], step_action: type[BaseModel]) -> dict[str, Any]:
    """JSON Schemas of the request bodies, for OpenAPI's components."""
    _, top = models_json_schema([(m, "validation") for m in [*models, step_action]],
                                ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top["$defs"]
    if "StepRequest" in schemas:
        schemas["StepRequest"]["properties"]["action"] = {"$ref": f"#/components/schemas/{step_action.__name__}"}
    return schemas


def body_doc(ref: str | list[str], required: bool = False) -> dict:
    refs = [ref] if isinstance(ref, str) else ref
    schema = ({"$ref": f"#/components/schemas/{refs[0]}"} if len(refs) == 1
              else {"anyOf": [{"$ref": f"#/components/schemas/{r}"} for r in refs]})
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def query_doc(names: tuple[str, ...], model: type[BaseModel]) -> dict:
    props = model.model_json_schema()["properties"]
    params = []
    for name in names:
        schema = {k: v for k, v in props[name].items() if k not in ("title", "default", "description")}
        schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    return {"parameters": params}
