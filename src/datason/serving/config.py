"""ServingConfig: every setting of a datason model service, from arguments or ``DATASON_SERVING_*`` variables.

Each field is declared once, with its environment variable and meaning; ``FIELDS`` is the one table that
``docs/serving.md`` and ``datason serve --help`` show (a test keeps the docs in step with it).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any, Literal

from ..config import (
    SerializationConfig,
    get_api_config,
    get_default_config,
    get_ml_config,
    get_performance_config,
    get_strict_config,
)

__all__ = ["ENV_PREFIX", "FIELDS", "PROTOCOLS", "RateLimitStrategy", "ServingConfig", "env_var", "parse_value"]

ENV_PREFIX = "DATASON_SERVING_"
PROTOCOLS: tuple[str, ...] = ("oip", "kserve_v1", "seldon", "mlflow")
"""The protocols a service answers besides datason's own ``/predict`` (which is always on)."""
RateLimitStrategy = Literal["moving-window", "fixed-window", "sliding-window-counter"]
STRATEGIES: tuple[str, ...] = ("moving-window", "fixed-window", "sliding-window-counter")
PRESETS = {
    "api": get_api_config,
    "default": get_default_config,
    "ml": get_ml_config,
    "strict": get_strict_config,
    "performance": get_performance_config,
}
DEFAULT_REDACT = ("password", "api_key", "token", "secret", "authorization")
DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_DOCS: dict[str, str] = {
    "model_id": "Model name: the `model_id` label of every metric and a field of every log line.",
    "model_version": "Returned as `model_version` in predictions and `/health`.",
    "rate_limit": "Per-client limit in `limits` notation (`100/minute`, `10/second;500/hour`); empty/None: off.",
    "rate_limit_strategy": "`moving-window` (exact), `fixed-window` or `sliding-window-counter`.",
    "client_id_header": "Header naming the client for rate limits (hashed in logs); absent: the peer address.",
    "max_body_bytes": "Largest request body in bytes (413 above).",
    "max_depth": "Deepest nesting of containers inside `features` (422 above).",
    "max_features": "Most keys (object) or items (list) in `features` (422 above).",
    "schema_format_check": "Check JSON Schema `format` keywords (date-time, email...).",
    "cache_size": "Prediction cache entries (LRU within TTL); 0: no cache.",
    "cache_ttl": "Seconds a cached prediction stays valid.",
    "batch_max_size": "Above 1, predict receives lists of up to this many feature sets.",
    "batch_max_wait_ms": "Longest wait for a batch to fill, in milliseconds.",
    "sync_in_thread": (
        "A sync predict runs in a worker thread (True), inline on the event loop (False), or "
        "auto (None): inline while its measured cost stays under 0.5 ms, else in a thread."
    ),
    "degraded_error_rate": "`/health` says `degraded` when the 5xx share of requests is above this.",
    "min_requests_for_health": "Requests needed before `/health` can say `degraded`.",
    "log_payloads": "Add the (redacted) features to each request's log line.",
    "redact_keys": "Keys whose values logs replace by `[REDACTED]` (case-insensitive substring match).",
    "latency_buckets": "Bucket bounds (seconds) of the latency histogram.",
    # -- issue 18, tracing --
    "tracing": (
        "OpenTelemetry spans per prediction (decode, validate, predict, encode) and W3C `traceparent` in and "
        "out, to the global TracerProvider or an OTLP exporter set by `OTEL_*` variables (docs/deployment.md)."
    ),
    "protocols": "Protocols answered beside `/predict`: `oip`, `kserve_v1`, `seldon`, `mlflow` (comma-separated).",
    "api_keys": (
        "Turns authentication on: a key store file (`datason keys create`: salted key hashes, names, scopes, "
        "tiers) or that JSON inline; None: anyone may call."
    ),
    "jwt_key_file": "Turns JWT bearer tokens on: a PEM public key or a JWKS (JSON) file verifying their signature.",
    "jwt_issuer": "The `iss` a JWT must carry (None: not checked).",
    "jwt_audience": "The `aud` a JWT must carry (required with `jwt_key_file`).",
    "jwt_algorithms": "Signature algorithms a JWT may use (comma-separated).",
    "metrics_auth": "With authentication on, `/metrics` needs a credential with the `metrics` scope.",
    "auth_failure_limit": "Failed authentications allowed per client address (`limits` notation); then 429.",
    "cors_origins": "Origins browsers may call from (comma-separated; `*`: any); empty: no CORS (closed).",
    "security_headers": "Add nosniff, no-store, frame-deny, CSP and HSTS headers to every response.",
    "datason_config": (
        "datason config for requests and responses (env: a preset name: api, ml, strict...); "
        "None: api, keys in predict's order."
    ),
    # model versions and traffic (issue 18)
    "admin_without_auth": (
        "Answer the admin routes (`/admin/models/{name}/traffic`) with authentication off; else they need "
        "the `admin` scope (403 without authentication)."
    ),
    # -- shared state (issue 18: limits and cache across workers and replicas) --
    "redis_url": (
        "Redis URL (`redis://host:6379/0`) holding rate limits and the prediction cache for every worker and "
        "replica; None: process memory."
    ),
}


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ServingConfig:
    """How a ``ModelService`` validates, limits, measures and answers requests. Immutable: use ``replace``."""

    model_id: str = "model"
    model_version: str = "0.0.0"
    rate_limit: str | None = None
    rate_limit_strategy: RateLimitStrategy = "moving-window"
    client_id_header: str | None = "X-API-Key"
    max_body_bytes: int = 1_048_576
    max_depth: int = 32
    max_features: int = 10_000
    schema_format_check: bool = False
    cache_size: int = 0
    cache_ttl: float = 300.0
    batch_max_size: int = 1
    batch_max_wait_ms: float = 5.0
    sync_in_thread: bool | None = None
    degraded_error_rate: float = 0.1
    min_requests_for_health: int = 10
    log_payloads: bool = False
    redact_keys: tuple[str, ...] = DEFAULT_REDACT
    latency_buckets: tuple[float, ...] = DEFAULT_BUCKETS
    # -- issue 18, tracing (datason.serving.tracing) --
    tracing: bool = False
    protocols: tuple[str, ...] = PROTOCOLS
    api_keys: str | None = None
    jwt_key_file: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    metrics_auth: bool = False
    auth_failure_limit: str = "10/minute"
    cors_origins: tuple[str, ...] = ()
    security_headers: bool = True
    datason_config: SerializationConfig | None = None
    # -- model versions and traffic (issue 18: several models and versions, datason.serving.models) --
    admin_without_auth: bool = False
    # -- shared state (issue 18: limits and cache across workers and replicas) --
    redis_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_depth", "max_features", "batch_max_size", "min_requests_for_health"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"ServingConfig.{name} must be a positive int, got {value!r}")
        if type(self.cache_size) is not int or self.cache_size < 0:
            raise ValueError(f"ServingConfig.cache_size must be a non-negative int, got {self.cache_size!r}")
        for name in ("cache_ttl", "batch_max_wait_ms", "degraded_error_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"ServingConfig.{name} must be a non-negative number, got {value!r}")
        if self.rate_limit_strategy not in STRATEGIES:
            raise ValueError(f"ServingConfig.rate_limit_strategy must be one of {STRATEGIES}")
        for name in ("model_id", "model_version"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"ServingConfig.{name} must be a non-empty str")
        if self.rate_limit is not None or self.auth_enabled:
            from .ratelimit import parse_limits  # the ``limits`` package: only when something is limited

            if self.rate_limit is not None:
                parse_limits(self.rate_limit)  # raises ValueError on bad notation, at construction
            if self.auth_enabled:
                parse_limits(self.auth_failure_limit)
        if not isinstance(self.auth_failure_limit, str) or not self.auth_failure_limit:
            raise ValueError("ServingConfig.auth_failure_limit must be limits notation, e.g. '10/minute'")
        for name in ("api_keys", "jwt_key_file", "jwt_issuer", "jwt_audience", "redis_url"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"ServingConfig.{name} must be a non-empty str or None")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("ServingConfig.redis_url must start with redis://, rediss:// or unix://")
        if self.jwt_key_file is not None and self.jwt_audience is None:
            raise ValueError("ServingConfig.jwt_audience is required with jwt_key_file")
        if self.metrics_auth and self.api_keys is None and self.jwt_key_file is None:
            raise ValueError("ServingConfig.metrics_auth needs api_keys or jwt_key_file")
        for name in ("jwt_algorithms", "cors_origins"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        if not self.jwt_algorithms:
            raise ValueError("ServingConfig.jwt_algorithms must name at least one algorithm")
        if self.datason_config is not None and not isinstance(self.datason_config, SerializationConfig):
            raise ValueError("ServingConfig.datason_config must be a SerializationConfig or None")
        if not isinstance(self.tracing, bool):
            raise ValueError("ServingConfig.tracing must be True or False")
        if self.sync_in_thread not in (True, False, None):
            raise ValueError("ServingConfig.sync_in_thread must be True, False or None (auto)")
        protocols = tuple(dict.fromkeys(str(p).lower() for p in self.protocols))
        unknown = [p for p in protocols if p not in PROTOCOLS and p != "datason"]
        if unknown:
            raise ValueError(f"ServingConfig.protocols: unknown protocol; expected some of {PROTOCOLS}")
        object.__setattr__(self, "protocols", protocols)
        object.__setattr__(self, "redact_keys", tuple(str(k).lower() for k in self.redact_keys))
        buckets = tuple(float(b) for b in self.latency_buckets)
        if not buckets or list(buckets) != sorted(set(buckets)):
            raise ValueError("ServingConfig.latency_buckets must be increasing numbers")
        object.__setattr__(self, "latency_buckets", buckets)

    @property
    def auth_enabled(self) -> bool:
        """True when requests must authenticate (``api_keys`` or ``jwt_key_file`` is set)."""
        return self.api_keys is not None or self.jwt_key_file is not None

    def replace(self, **changes: Any) -> ServingConfig:
        """A copy with the given fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def serialization(self) -> SerializationConfig:
        """The datason config in effect: ``datason_config``, or ``get_api_config()`` keeping key order.

        A response keeps the order in which predict built its dicts (as FastAPI and orjson do, and as every
        protocol's envelope does): sorting is for stable documents, not for a model's answer.
        """
        if self.datason_config is not None:
            return self.datason_config
        return _API_IN_ORDER

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServingConfig:
        """Defaults, then ``DATASON_SERVING_<FIELD>`` variables, then ``overrides`` (arguments win)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(env_var(f.name))
            if raw is not None and f.name not in overrides:
                values[f.name] = parse_value(f.name, raw, f.default)
        return cls(**values, **overrides)


_API_IN_ORDER = get_api_config().replace(sort_keys=False)


def env_var(name: str) -> str:
    """The environment variable of field ``name``."""
    return ENV_PREFIX + name.upper()


FIELDS: tuple[tuple[str, str, str, str], ...] = tuple(
    (f.name, env_var(f.name), repr(f.default), _DOCS[f.name]) for f in dataclasses.fields(ServingConfig)
)
"""(field, environment variable, default, meaning) for every field: the documented table."""


def parse_value(name: str, raw: str, default: Any, *, source: str | None = None) -> Any:
    """A string as the type of the field's default; errors name ``source`` (default: the variable), not the value."""
    text = raw.strip()
    try:
        if name == "sync_in_thread" and text.lower() in ("auto", "none", ""):
            return None
        if name == "sync_in_thread":
            default = True
        if name == "protocols":
            names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
            if any(p not in PROTOCOLS and p != "datason" for p in names):
                raise ValueError
            return names
        if name == "datason_config":
            return None if text.lower() in ("", "none") else PRESETS[text.lower()]()
        if name in (
            "rate_limit",
            "client_id_header",
            "api_keys",
            "jwt_key_file",
            "jwt_issuer",
            "jwt_audience",
            "redis_url",
        ):
            return None if text.lower() in ("", "none", "off") else text
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            items = [part.strip() for part in text.split(",") if part.strip()]
            return tuple(float(i) for i in items) if name == "latency_buckets" else tuple(items)
        return text
    except (ValueError, KeyError):
        if name == "datason_config":
            kind = "a preset name (" + ", ".join(PRESETS) + ")"
        elif name == "protocols":
            kind = "a comma-separated list of " + ", ".join(PROTOCOLS)
        elif name == "sync_in_thread":
            kind = "true, false or auto"
        else:
            kind = type(default).__name__
        raise ValueError(f"{source or env_var(name)} must be {kind}") from None
