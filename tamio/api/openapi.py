"""The OpenAPI 3.1 document, generated from the route registry and its pydantic models.

Why generated: the models that validate requests and serialise responses are the ones described
here, with pydantic's JSON Schema (OpenAPI 3.1 is JSON Schema 2020-12), so the document cannot say
one thing while the server does another. Request models are described in validation mode and
response models in serialisation mode; pydantic names the two apart when they differ.

    document = build_document(routes, version="1")
    document["paths"]["/api/v1/forecast"]["get"]["parameters"]   # weeks, as_of
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaValue, models_json_schema

from tamio.accounts.models import Role
from tamio.api.problems import Problem, problem_schema_response
from tamio.api.registry import Route

PREFIX = "/api/v1"
REF_TEMPLATE = "#/components/schemas/{model}"
ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"}

Mode = Literal["validation", "serialization"]


def _models(routes: Iterable[Route]) -> list[tuple[type[BaseModel], Mode]]:
    seen: dict[tuple[type[BaseModel], Mode], None] = {(Problem, "serialization"): None}
    for route in routes:
        for model, mode in ((route.body, "validation"), (route.query, "validation"), (route.response, "serialization")):
            if model is not None:
                seen[(model, mode)] = None  # type: ignore[index]
    return list(seen)


def _without_null(schema: JsonSchemaValue) -> JsonSchemaValue:
    """A query parameter cannot be JSON null: drop the null branch pydantic gives optional fields."""
    schema = copy.deepcopy(schema)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        schema.pop("anyOf")
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    return schema


def _error_statuses(route: Route) -> list[int]:
    statuses = {401, *route.errors}
    if route.role != Role.VIEWER:
        statuses.add(403)
    if route.path_params:
        statuses.add(404)
    if route.body is not None or route.query is not None:
        statuses.add(422)
    return sorted(statuses)


def _operation(route: Route, refs: Mapping[tuple[Any, Mode], JsonSchemaValue], schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": dict(ID_SCHEMA)} for name in route.path_params
    ]
    if route.query is not None:
        ref = refs[(route.query, "validation")]["$ref"]
        query_schema = schemas[ref.rsplit("/", 1)[1]]
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": _without_null(prop)}
            if "description" in prop:
                parameter["description"] = prop["description"]
            parameters.append(parameter)
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "security": [{"bearer": []}],
    }
    if route.description:
        operation["description"] = route.description
    if route.role != Role.VIEWER:
        role_note = f"Needs the {route.role.value} role."
        operation["description"] = f"{operation.get('description', '')}\n\n{role_note}".strip()
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            # A body whose fields all have defaults may be left out (an empty body is {}).
            "required": any(field.is_required() for field in route.body.model_fields.values()),
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
        if route.upload is not None:
            content = operation["requestBody"]["content"]
            content["multipart/form-data"] = {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
                    "required": ["file"],
                },
            }
            for media_type in route.upload.media_types:
                content[media_type] = {"schema": {"type": "string", "contentMediaType": media_type}}
    responses: dict[str, Any] = {}
    if route.response is None:
        responses[str(route.status)] = {"description": HTTPStatus(route.status).phrase}
    else:
        responses[str(route.status)] = {
            "description": HTTPStatus(route.status).phrase,
            "content": {"application/json": {"schema": refs[(route.response, "serialization")]}},
        }
    for status in _error_statuses(route):
        responses[str(status)] = problem_schema_response(status)
    responses["401"]["headers"] = {
        "WWW-Authenticate": {"required": True, "schema": {"type": "string"}, "description": "Bearer challenge"}
    }
    operation["responses"] = responses
    return operation


def build_document(routes: Sequence[Route], *, version: str = "1.0.0") -> dict[str, Any]:
    refs, definitions = models_json_schema(_models(routes), ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tamio API",
            "version": version,
            "description": (
                "The REST API of Tamio, the cash-flow assistant that lives in Slack. Authenticate with a bearer "
                "token (`tamio token create --member ID`, or `/tamio token` in Slack); a token acts as its member, "
                "with that member's role, in that member's account only. Amounts are decimal strings. Errors are "
                "RFC 9457 problem JSON."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API token, tamio_..."}},
        },
    }

