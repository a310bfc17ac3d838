"""The OpenAPI 3.1 document of a service (``GET /openapi.json``): every route it answers and its request schema.

The features schema of ``/predict`` is the one the service was given: a JSON Schema dict as is, a pydantic
model through ``model_json_schema``, other types (dataclasses, TypedDicts, attrs) through msgspec's JSON
Schema generator; its definitions go to ``components/schemas``. Protocol routes reference the schemas of
their wire formats. Built once, on first request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .routes import RouteSpec, scope_needed

__all__ = ["openapi_document"]

_REF = "#/components/schemas/"
_ANY: dict[str, Any] = {}
_DATATYPES = "BOOL UINT8 UINT16 UINT32 UINT64 INT8 INT16 INT32 INT64 FP16 FP32 FP64 BF16 BYTES".split()
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": _DATATYPES},
        "parameters": {"type": "object"},
        "data": {"type": "array", "description": "row-major, flat or nested (absent with binary_data_size)"},
    },
}
_SCHEMAS: dict[str, Any] = {
    "ErrorEnvelope": {
        "type": "object",
        "required": ["request_id", "status", "error", "timestamp"],
        "properties": {
            "request_id": {"type": "string"},
            "status": {"const": "error"},
            "error": {"type": "string", "description": "the rule and the field path, never a value"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
    },
    "PredictResponse": {
        "type": "object",
        "required": ["request_id", "prediction", "model_version", "timestamp", "processing_time_ms"],
        "properties": {
            "request_id": {"type": "string"},
            "prediction": {"description": "predict's result as plain JSON (the service's datason config)"},
            "model_version": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
            "processing_time_ms": {"type": "number"},
        },
    },
    "Health": {"type": "object", "required": ["status", "model_id", "ready", "total_requests", "timestamp"]},
    "Ready": {"type": "object", "required": ["ready", "model_id", "model_version", "timestamp"]},
    "OipError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "OipTensor": _TENSOR,
    "OipInferenceRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": {"$ref": _REF + "OipTensor"}},
            "outputs": {
                "type": "array",
                "items": {"type": "object", "required": ["name"], "properties": {"parameters": {"type": "object"}}},
            },
        },
    },
    "OipInferenceResponse": {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "outputs": {"type": "array", "items": {"$ref": _REF + "OipTensor"}},
        },
    },
    "KServeV1Request": {
        "type": "object",
        "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
        "properties": {"instances": {"type": "array"}, "inputs": _ANY, "parameters": {"type": "object"}},
    },
    "KServeV1Response": {"type": "object", "required": ["predictions"], "properties": {"predictions": _ANY}},
    "SeldonMessage": {
        "type": "object",
        "properties": {
            "meta": {"type": "object"},
            "data": {
                "type": "object",
                "properties": {
                    "names": {"type": "array", "items": {"type": "string"}},
                    "ndarray": {"type": "array"},
                    "tensor": {
                        "type": "object",
                        "required": ["shape", "values"],
                        "properties": {
                            "shape": {"type": "array", "items": {"type": "integer"}},
                            "values": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                },
            },
            "jsonData": _ANY,
            "strData": {"type": "string"},
            "binData": {"type": "string", "contentEncoding": "base64"},
        },
    },
    "SeldonError": {"type": "object", "required": ["status"], "properties": {"status": {"type": "object"}}},
    "MlflowRequest": {
        "type": "object",
        "oneOf": [
            {"required": ["dataframe_split"]},
            {"required": ["dataframe_records"]},
            {"required": ["instances"]},
            {"required": ["inputs"]},
        ],
        "properties": {
            "dataframe_split": {
                "type": "object",
                "required": ["columns", "data"],
                "properties": {"columns": {"type": "array"}, "data": {"type": "array"}, "index": {"type": "array"}},
            },
            "dataframe_records": {"type": "array", "items": {"type": "object"}},
            "instances": _ANY,
            "inputs": _ANY,
            "params": {"type": "object"},
        },
    },
    "MlflowResponse": {"type": "object", "required": ["predictions"], "properties": {"predictions": _ANY}},
    "MlflowError": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    },
}
# (request schema, response schema, error schema) of each protocol's prediction routes
_PREDICT = {
    "datason": ("PredictRequest", "PredictResponse", "ErrorEnvelope"),
    "oip": ("OipInferenceRequest", "OipInferenceResponse", "OipError"),
    "kserve_v1": ("KServeV1Request", "KServeV1Response", "OipError"),
    "seldon": ("SeldonMessage", "SeldonMessage", "SeldonError"),
    "mlflow": ("MlflowRequest", "MlflowResponse", "MlflowError"),
}
_ERRORS = {
    "400": "malformed request (the message names the field)",
    "413": "body or a value over a size limit",
    "415": "Content-Type is not JSON (nor, on OIP routes, application/octet-stream)",
    "422": "does not match the schema, or nested too deep",
    "429": "rate limit exceeded (Retry-After)",
    "500": "predict failed (the exception class only)",
}


def openapi_document(service: Any, routes: Sequence[RouteSpec], *, models: Any = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``service`` answering ``routes``; with ``models`` (a ``ModelSet``), prediction
    routes take the ``X-Model-Name``/``X-Model-Version`` headers and answer ``X-Model-Version``, and the admin
    routes take and give a ``TrafficPolicy``."""
    cfg = service.config
    schemas = dict(_SCHEMAS)
    features, extra = features_schema(service.schema)
    schemas.update(extra)
    schemas["PredictRequest"] = {"type": "object", "required": ["features"], "properties": {"features": features}}
    paths: dict[str, dict[str, Any]] = {}
    auth = getattr(service, "auth", None) is not None
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": _operation_id(route),
            "tags": [route.protocol],
        }
        params = [p.strip("{}") for p in route.path.replace(":", "/").split("/") if p.startswith("{")]
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
            ]
        if route.kind == "predict":
            request, response, error = _PREDICT[route.protocol]
            content: dict[str, Any] = {"application/json": {"schema": {"$ref": _REF + request}}}
            if route.protocol == "oip":
                content["application/octet-stream"] = {
                    "schema": {"type": "string", "format": "binary"},
                    "description": "binary tensor extension: JSON header (Inference-Header-Content-Length) + tensors",
                }
            operation["requestBody"] = {"required": True, "content": content}
            answers = {"200": ("prediction", response)} | {code: (text, error) for code, text in _ERRORS.items()}
            operation["responses"] = {
                code: {"description": text, "content": {"application/json": {"schema": {"$ref": _REF + name}}}}
                for code, (text, name) in answers.items()
            }
            if models is not None:
                _versioned(operation, route)
        elif route.kind == "traffic":
            _traffic(operation, route, schemas)
        else:
            media = "text/plain" if route.kind == "metrics" else "application/json"
            operation["responses"] = {"200": {"description": route.summary, "content": {media: {"schema": {}}}}}
            if route.kind in ("ready", "server_ready", "model_ready", "ping"):
                operation["responses"]["503"] = {"description": "not ready"}
        scope = scope_needed(route, auth=auth, metrics_auth=cfg.metrics_auth)
        if scope is not None:
            operation["security"] = [{"apiKey": []}, {"bearer": []}]
            operation["responses"]["401"] = {"description": "credentials missing or not valid (WWW-Authenticate)"}
            operation["responses"]["403"] = {"description": f"the credential lacks the {scope} scope"}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    components: dict[str, Any] = {"schemas": schemas}
    if auth:
        components["securitySchemes"] = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API key, or a JWT when configured"},
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{cfg.model_id} (datason model service)",
            "version": cfg.model_version,
            "description": "Served by datason.serving; protocols: "
            + ", ".join(sorted({r.protocol for r in routes}))
            + ("" if models is None else "; models: " + ", ".join(models.names)),
        },
        "paths": paths,
        "components": components,
    }


def _versioned(operation: dict[str, Any], route: RouteSpec) -> None:
    """A prediction route of several models or versions: the headers that pick them, the one that says which."""
    params = operation.setdefault("parameters", [])
    if "{name}" not in route.path:
        params.append(
            {
                "name": "X-Model-Name",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "the model (default: the service's default model)",
            }
        )
    if "{version}" not in route.path:
        params.append(
            {
                "name": "X-Model-Version",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "pin a version (default: drawn by the model's traffic weights)",
            }
        )
    operation["responses"]["200"]["headers"] = {
        "X-Model-Version": {"description": "the version that answered", "schema": {"type": "string"}}
    }
    operation["responses"]["404"] = {
        "description": "unknown model or version",
        "content": {"application/json": {"schema": {"$ref": _REF + _PREDICT[route.protocol][2]}}},
    }


def _traffic(operation: dict[str, Any], route: RouteSpec, schemas: dict[str, Any]) -> None:
    """The admin route's traffic policy, read (GET) or replaced (PUT)."""
    schemas["TrafficPolicy"] = {
        "type": "object",
        "required": ["weights"],
        "properties": {
            "weights": {
                "type": "object",
                "additionalProperties": {"type": "number", "minimum": 0},
                "description": "version -> weight; the share of unpinned requests (not all 0)",
            },
            "shadow": {"type": ["string", "null"], "description": "the version that gets shadow copies"},
            "shadow_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }
    ref = {"application/json": {"schema": {"$ref": _REF + "TrafficPolicy"}}}
    if route.method == "PUT":
        operation["requestBody"] = {"required": True, "content": ref}
    operation["responses"] = {
        "200": {"description": "the model's traffic policy", "content": ref},
        "403": {"description": "the admin scope is missing (or authentication is off without admin_without_auth)"},
        "404": {"description": "unknown model"},
    }
    if route.method == "PUT":
        operation["responses"]["400"] = {"description": "not a valid policy (unknown version, all weights 0...)"}


def features_schema(schema: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of ``/predict``'s features, and the definitions it references (for components)."""
    if schema is None:
        return {}, {}
    if isinstance(schema, dict):
        return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}, {}
    if hasattr(schema, "model_json_schema"):  # pydantic v2 model
        body = schema.model_json_schema(ref_template=_REF + "{model}")
        return body, dict(body.pop("$defs", {}))
    try:
        import msgspec

        (body,), components = msgspec.json.schema_components([schema], ref_template=_REF + "{name}")
    except Exception:  # a type msgspec cannot describe: say nothing rather than something wrong
        return {}, {}
    return body, components


def _operation_id(route: RouteSpec) -> str:
    words = [w for w in route.path.replace("{", "").replace("}", "").replace(":", "/").split("/") if w]
    return route.method.lower() + "_" + "_".join(w.replace(".", "_") for w in words) if words else "root"
