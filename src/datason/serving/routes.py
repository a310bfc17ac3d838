"""The HTTP routes of a datason service: one table that the ASGI app routes by and the OpenAPI document describes.

Each route belongs to a protocol (``datason`` routes are always on; the others follow
``ServingConfig.protocols``) and has a ``kind``: ``predict`` routes go through the request pipeline, the
others answer from the service's state (health, readiness, metadata, metrics).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ADMIN_ROUTES", "OPEN_KINDS", "ROUTES", "RouteSpec", "scope_needed"]


class RouteSpec(NamedTuple):
    """One route: ``path`` in Starlette's notation (``{name}`` is one path segment)."""

    path: str
    method: str
    protocol: str
    kind: str
    summary: str


# Prediction routes first (they are matched in order, and they are the hot ones).
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("/predict", "POST", "datason", "predict", 'Predict from datason\'s {"features": ...} request'),
    RouteSpec("/v2/models/{name}/infer", "POST", "oip", "predict", "Open Inference Protocol v2 inference"),
    RouteSpec(
        "/v2/models/{name}/versions/{version}/infer", "POST", "oip", "predict", "OIP v2 inference on one version"
    ),
    RouteSpec("/v1/models/{name}:predict", "POST", "kserve_v1", "predict", "KServe v1 prediction"),
    RouteSpec("/api/v1.0/predictions", "POST", "seldon", "predict", "Seldon Core v1 prediction (SeldonMessage)"),
    RouteSpec("/invocations", "POST", "mlflow", "predict", "MLflow scoring server prediction"),
    RouteSpec("/health", "GET", "datason", "health", "Counts, error rate and latency since start"),
    RouteSpec("/ready", "GET", "datason", "ready", "200 once started, 503 before and after shutdown"),
    RouteSpec("/metrics", "GET", "datason", "metrics", "Prometheus metrics"),
    RouteSpec("/openapi.json", "GET", "datason", "openapi", "This document (OpenAPI 3.1)"),
    RouteSpec("/v2/health/live", "GET", "oip", "live", "OIP v2 server liveness"),
    RouteSpec("/v2/health/ready", "GET", "oip", "server_ready", "OIP v2 server readiness"),
    RouteSpec("/v2", "GET", "oip", "server_metadata", "OIP v2 server metadata"),
    RouteSpec("/v2/models/{name}", "GET", "oip", "model_metadata", "OIP v2 model metadata"),
    RouteSpec("/v2/models/{name}/ready", "GET", "oip", "model_ready", "OIP v2 model readiness"),
    RouteSpec("/v2/models/{name}/versions/{version}", "GET", "oip", "model_metadata", "OIP v2 model version metadata"),
    RouteSpec("/v2/models/{name}/versions/{version}/ready", "GET", "oip", "model_ready", "OIP v2 version readiness"),
    RouteSpec("/v1/models", "GET", "kserve_v1", "model_list", "KServe v1 list of models"),
    RouteSpec("/v1/models/{name}", "GET", "kserve_v1", "model_ready", "KServe v1 model readiness"),
    RouteSpec("/ping", "GET", "mlflow", "ping", "MLflow scoring server readiness"),
)

#: The admin routes of a service of several models or versions (``datason.serving.models.ModelSet``): read and
#: change a model's traffic weights and shadow at run time (scope ``admin``).
ADMIN_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("/admin/models/{name}/traffic", "GET", "datason", "traffic", "A model's traffic weights and shadow"),
    RouteSpec("/admin/models/{name}/traffic", "PUT", "datason", "traffic", "Change a model's weights and shadow"),
)

#: Route kinds that stay open with authentication on (health and readiness probes).
OPEN_KINDS = frozenset({"health", "ready", "live", "server_ready", "model_ready", "ping"})


def scope_needed(route: RouteSpec, *, auth: bool, metrics_auth: bool) -> str | None:
    """The scope a caller of ``route`` needs (None: open): probes stay open, ``/metrics`` needs ``metrics``
    with ``metrics_auth``, the admin routes ``admin``, every other route (predictions, metadata, OpenAPI)
    ``predict``."""
    if not auth or route.kind in OPEN_KINDS:
        return None
    if route.kind == "traffic":
        return "admin"
    if route.kind == "metrics":
        return "metrics" if metrics_auth else None
    return "predict"
