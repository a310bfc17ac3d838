"""Several models, and several versions of a model, behind one service: which version answers a request.

- ``ModelSet``: ``{name: {version: ModelService}}``. Each version is an ordinary ``ModelService`` (its
  ``config.model_id`` and ``config.model_version`` name it); they share the first service's access checks and
  rate limits (``ModelService.join``) and label their ``ml_prediction_*`` metrics with ``model_version``. The
  first model added is the default one (``/predict``, Seldon and MLflow routes without an ``X-Model-Name``).
- ``TrafficPolicy``: a model's ``weights`` (version -> non-negative number; the share of unpinned requests),
  its ``shadow`` version and ``shadow_fraction``. A request pinned to a version (a path ``/versions/{v}/`` or
  the ``X-Model-Version`` header) goes there; an unpinned one is drawn by weight with ``random.Random.random()``
  (one draw per request, seedable: ``ModelSet(seed=...)``), so each request is independent and the observed
  split is binomial around the weights.
- **Shadow traffic**: after the primary's answer has been sent, a copy of the request (each one with
  probability ``shadow_fraction``; not those the primary refused with a 4xx) goes to the shadow version in a
  background task. Its answer is compared with the primary's (the protocol's body without the fields that
  always differ: request id, timestamps, model version, processing time), counted in
  ``ml_shadow_comparisons_total{outcome=match|differ|error|dropped}`` and logged as a JSON line
  (``datason.serving.shadow``); it never reaches the client, and a shadow that fails or is slow changes
  nothing for it. At most ``MAX_PENDING_SHADOWS`` run at once; beyond, copies are dropped (and counted).
- ``ModelSet.from_file(path)``: a TOML (or ``.json``) file naming models, versions, targets, weights and
  shadows; ``reload()`` applies its weights and shadows again when the file changed (``datason serve`` calls it
  on SIGHUP). Adding or removing models or versions needs a restart: such a reload is refused and logged.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import hashlib
import json
import logging
import math
import random
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from . import multiproc
from .config import ServingConfig
from .errors import NotFoundError, utc_timestamp
from .service import ModelService, ServingResponse, _answer

__all__ = ["ModelSet", "TrafficPolicy"]

MAX_PENDING_SHADOWS = 256
#: Fields of a response body that differ between any two answers (left out of the shadow comparison).
_VOLATILE = frozenset({"request_id", "timestamp", "processing_time_ms", "model_version", "model_name", "id", "meta"})
_VERSION_KEYS = frozenset({"target", "weight"})
_SHADOW_LOG = logging.getLogger("datason.serving.shadow")
_LOG = logging.getLogger("datason.serving.traffic")


@dataclasses.dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """A model's traffic: ``weights`` by version (shares of unpinned requests), ``shadow`` version and fraction."""

    weights: Mapping[str, float]
    shadow: str | None = None
    shadow_fraction: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise ValueError("traffic weights must be a non-empty mapping of version to weight")
        weights: dict[str, float] = {}
        for version, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
                raise ValueError(f"traffic weight of version {version!r} must be a number")
            if weight < 0:
                raise ValueError(f"traffic weight of version {version!r} must not be negative")
            weights[str(version)] = float(weight)
        if sum(weights.values()) <= 0:
            raise ValueError("traffic weights must not all be 0")
        object.__setattr__(self, "weights", weights)
        if self.shadow is not None and (not isinstance(self.shadow, str) or not self.shadow):
            raise ValueError("traffic shadow must be a version name or null")
        fraction = self.shadow_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
            raise ValueError("traffic shadow_fraction must be a number from 0 to 1")
        object.__setattr__(self, "shadow_fraction", float(fraction))

    @classmethod
    def from_mapping(cls, doc: Any) -> TrafficPolicy:
        """From ``{"weights": {...}, "shadow": "v" | null, "shadow_fraction": 0.1}`` (the admin body, a file)."""
        if not isinstance(doc, Mapping):
            raise ValueError('traffic must be an object: {"weights": {...}, "shadow": ..., "shadow_fraction": ...}')
        unknown = set(doc) - {"weights", "shadow", "shadow_fraction"}
        if unknown:
            raise ValueError(f"traffic: unknown field(s) {sorted(unknown)}; expected weights, shadow, shadow_fraction")
        return cls(doc.get("weights", {}), doc.get("shadow"), doc.get("shadow_fraction", 1.0))

    def as_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "shadow": self.shadow, "shadow_fraction": self.shadow_fraction}


class _Model:
    """One model's versions and its traffic policy, with the cumulative weights a draw bisects."""

    __slots__ = ("cumulative", "name", "policy", "primary", "shadow", "single", "versions", "weighted")

    def __init__(self, name: str) -> None:
        self.name = name
        self.versions: dict[str, ModelService] = {}
        self.policy: TrafficPolicy | None = None
        self.weighted: tuple[ModelService, ...] = ()
        self.cumulative: tuple[float, ...] = ()
        self.single: ModelService | None = None  # the only version drawn (no random draw needed)
        self.primary: ModelService | None = None  # the heaviest version (metadata, the default service)
        self.shadow: ModelService | None = None

    def apply(self, policy: TrafficPolicy) -> None:
        unknown = [v for v in (*policy.weights, policy.shadow) if v is not None and v not in self.versions]
        if unknown:
            raise ValueError(f"model {self.name!r} has no version {unknown[0]!r}")
        drawn = [(v, w) for v, w in policy.weights.items() if w > 0]
        total = sum(w for _, w in drawn)
        running, cumulative = 0.0, []
        for _, w in drawn:
            running += w / total
            cumulative.append(running)
        cumulative[-1] = 1.0
        # one assignment each: a request in flight sees the old policy or the new one, never a mix
        self.weighted = tuple(self.versions[v] for v, _ in drawn)
        self.cumulative = tuple(cumulative)
        self.single = self.weighted[0] if len(drawn) == 1 else None
        self.primary = self.versions[max(drawn, key=lambda item: item[1])[0]]
        self.shadow = self.versions[policy.shadow] if policy.shadow is not None else None
        self.policy = policy


class ModelSet:
    """Models and their versions (``ModelService``s) with traffic policies; what ``ServingApp`` routes by.

    ``add(service, weight=...)`` adds a version (named by its config); the first version of a model gets all
    of its traffic until weights are given (``set_traffic``, or ``weight`` to ``add``). ``seed`` seeds the
    per-request draw (tests); ``default`` names the model of routes without a model name.
    """

    def __init__(self, services: Iterable[ModelService] = (), *, seed: int | None = None, default: str | None = None):
        self._models: dict[str, _Model] = {}
        self._rng = random.Random(seed)
        self._default_name = default
        self._front: ModelService | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._comparisons: dict[tuple[str, str, str, str], int] = {}
        self._file: Path | None = None
        self._file_digest: bytes | None = None
        self._metrics: Any = None
        for service in services:
            self.add(service)

    # -- building --------------------------------------------------------------------------------------

    def add(self, service: ModelService, *, weight: float | None = None) -> None:
        """Add ``service`` as version ``config.model_version`` of model ``config.model_id``."""
        if not isinstance(service, ModelService):
            raise TypeError("a ModelSet holds ModelService objects")
        name, version = service.config.model_id, service.config.model_version
        for what, text in (("model name", name), ("model version", version)):
            if "/" in text:
                raise ValueError(f"{what} {text!r} must not contain '/' (it is one path segment)")
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = _Model(name)
        if version in model.versions:
            raise ValueError(f"model {name!r} already has a version {version!r}")
        if self._front is None:
            self._front = service
            if self._default_name is None:
                self._default_name = name
        service.join(self._front)
        model.versions[version] = service
        policy = model.policy
        if policy is None:
            model.apply(TrafficPolicy({version: 1.0 if weight is None else weight}))
        else:
            weights = {**policy.weights, version: 0.0 if weight is None else weight}
            model.apply(TrafficPolicy(weights, policy.shadow, policy.shadow_fraction))

    def set_traffic(self, name: str, policy: TrafficPolicy | Mapping[str, Any]) -> TrafficPolicy:
        """Give model ``name`` a new policy (versions left out of ``weights`` get none); ValueError if invalid."""
        model = self._model(name)
        if not isinstance(policy, TrafficPolicy):
            policy = TrafficPolicy.from_mapping(policy)
        model.apply(policy)
        _LOG.info(orjson.dumps({"event": "traffic", "model_id": name, **policy.as_dict()}).decode())
        return policy

    def traffic(self, name: str) -> TrafficPolicy:
        policy = self._model(name).policy
        assert policy is not None
        return policy

    # -- lookup ----------------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._models)

    @property
    def default_name(self) -> str:
        if self._default_name is None or self._default_name not in self._models:
            raise ValueError("the ModelSet is empty" if not self._models else f"no model {self._default_name!r}")
        return self._default_name

    @property
    def default(self) -> ModelService:
        """The service answering the default model's unpinned requests most often (its heaviest version)."""
        primary = self._models[self.default_name].primary
        assert primary is not None
        return primary

    @property
    def front(self) -> ModelService:
        """The first service added: its access checks, limits and error bodies are the set's."""
        if self._front is None:
            raise ValueError("the ModelSet is empty")
        return self._front

    def versions(self, name: str) -> dict[str, ModelService]:
        return dict(self._model(name).versions)

    def services(self) -> Iterator[ModelService]:
        for model in self._models.values():
            yield from model.versions.values()

    def primary(self, name: str) -> ModelService:
        primary = self._model(name).primary
        assert primary is not None
        return primary

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise NotFoundError("unknown model")
        return model

    def pick(self, name: str | None, version: str | None) -> ModelService:
        """The service answering a request for model ``name`` (None: the default) pinned to ``version`` (None:
        drawn by weight); ``NotFoundError`` (404) for an unknown model or version."""
        model = self._models.get(self.default_name if name is None else name)
        if model is None:
            raise NotFoundError("unknown model")
        if version is not None:
            service = model.versions.get(version)
            if service is None:
                raise NotFoundError("unknown model version")
            return service
        single = model.single
        if single is not None:
            return single
        weighted = model.weighted
        return weighted[bisect.bisect_right(model.cumulative, self._rng.random(), hi=len(weighted) - 1)]

    # -- shadow traffic --------------------------------------------------------------------------------

    def shadow_of(self, primary: ModelService) -> ModelService | None:
        """The shadow version that gets a copy of a request ``primary`` answered (None: no copy this time)."""
        model = self._models.get(primary.config.model_id)
        if model is None:
            return None
        shadow = model.shadow
        if shadow is None or shadow is primary:
            return None
        policy = model.policy
        if policy is not None and policy.shadow_fraction < 1.0 and self._rng.random() >= policy.shadow_fraction:
            return None
        return shadow

    def start_shadow(
        self,
        shadow: ModelService,
        primary: ModelService,
        answer: ServingResponse,
        body: bytes,
        headers: dict[str, str],
        client: str | None,
        protocol: str,
        path: str,
        principal: Any,
    ) -> None:
        """Run ``shadow`` on a copy of the request in the background and compare its answer with ``answer``."""
        if len(self._shadow_tasks) >= MAX_PENDING_SHADOWS:
            self._count(primary, shadow, "dropped")
            return
        rid = next((v for k, v in answer.headers if k == "x-request-id"), None)
        copy = {**headers, "x-request-id": rid} if rid is not None else headers
        coro = self._shadow(shadow, primary, answer, body, copy, client, protocol, path, principal)
        task = asyncio.get_running_loop().create_task(coro)
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self,
        shadow: ModelService,
        primary: ModelService,
        answer: ServingResponse,
        body: bytes,
        headers: dict[str, str],
        client: str | None,
        protocol: str,
        path: str,
        principal: Any,
    ) -> None:
        try:
            response = await shadow.handle(body, headers, client, protocol, path, principal=principal, shadow=True)
            if response.status >= 400:
                outcome = "error"
            elif answer.status >= 400:
                outcome = "differ"
            else:
                outcome = "match" if _comparable(answer) == _comparable(response) else "differ"
            status = response.status
        except Exception:  # never let a shadow's fault escape: it is counted and logged, nothing else
            outcome, status = "error", 500
        self._count(primary, shadow, outcome)
        if _SHADOW_LOG.isEnabledFor(logging.INFO):
            line = {
                "event": "shadow",
                "request_id": headers.get("x-request-id"),
                "model_id": primary.config.model_id,
                "primary_version": primary.config.model_version,
                "shadow_version": shadow.config.model_version,
                "protocol": protocol,
                "primary_status": answer.status,
                "shadow_status": status,
                "outcome": outcome,
                "timestamp": utc_timestamp(),
            }
            _SHADOW_LOG.log(logging.WARNING if outcome != "match" else logging.INFO, orjson.dumps(line).decode())

    def _count(self, primary: ModelService, shadow: ModelService, outcome: str) -> None:
        key = (primary.config.model_id, primary.config.model_version, shadow.config.model_version, outcome)
        with self._lock:
            self._comparisons[key] = self._comparisons.get(key, 0) + 1

    def shadow_counts(self) -> dict[tuple[str, str, str, str], int]:
        """(model, primary version, shadow version, outcome) -> count, since start."""
        with self._lock:
            return dict(self._comparisons)

    async def drain_shadows(self) -> None:
        """Wait for the shadow copies in flight (tests; shutdown)."""
        while self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)

    # -- lifecycle, health, metrics --------------------------------------------------------------------

    def start(self) -> None:
        for service in self.services():
            service.start()

    def stop(self) -> None:
        for service in self.services():
            service.stop()

    @property
    def ready(self) -> bool:
        """True when every version is ready."""
        return all(service.ready for service in self.services())

    def health(self) -> dict[str, Any]:
        """The default model's health (as a single service's ``/health``), plus ``models``: one entry per
        version with its counts, traffic ``weight`` (share of unpinned requests) and whether it is the shadow.
        ``status`` is ``degraded`` when a version that gets traffic by weight is."""
        out = self.default.health()
        models = []
        for model in self._models.values():
            policy = model.policy
            assert policy is not None
            total = sum(policy.weights.values())
            for version, service in model.versions.items():
                entry = service.health()
                entry["weight"] = round(policy.weights.get(version, 0.0) / total, 6)
                entry["shadow"] = version == policy.shadow
                models.append(entry)
        if any(entry["status"] == "degraded" and entry["weight"] > 0 for entry in models):
            out["status"] = "degraded"  # a failing shadow or pinned-only version is shown in its entry only
        out["models"] = models
        return out

    def health_response(self, rid: str | None = None) -> ServingResponse:
        return _answer(200, orjson.dumps(self.health()), rid)

    def ready_response(self, rid: str | None = None) -> ServingResponse:
        """``/ready``: 200 when every version is ready, with each version's readiness."""
        ready = self.ready
        default = self.default.config
        body: dict[str, Any] = {"ready": ready, "model_id": default.model_id, "model_version": default.model_version}
        body["models"] = {name: {v: s.ready for v, s in model.versions.items()} for name, model in self._models.items()}
        body["timestamp"] = utc_timestamp()
        return _answer(200 if ready else 503, orjson.dumps(body), rid)

    def metrics_response(self, rid: str | None = None) -> ServingResponse:
        """Every version's metrics as one exposition (samples of the same labels summed: ``ml_active_models``
        counts the versions started), plus ``ml_shadow_comparisons_total``."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if (
            multiproc.enabled()
        ):  # --workers N (shared state, issue 18): every worker's files, then this worker's shadows
            shadows = [f for f in _SetCollector(self).collect() if f.name == "ml_shadow_comparisons"]
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Families(shadows))
            return _answer(200, multiproc.render() + generate_latest(registry), rid, CONTENT_TYPE_LATEST)
        if self._metrics is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_SetCollector(self))
            self._metrics = registry
        return _answer(200, generate_latest(self._metrics), rid, CONTENT_TYPE_LATEST)

    # -- the models file -------------------------------------------------------------------------------

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        load: Callable[[str], Any],
        config: ServingConfig | None = None,
        schema: Any = None,
        seed: int | None = None,
    ) -> ModelSet:
        """The models a TOML (or ``.json``) file names; ``load`` turns a ``MODULE:ATTR`` into its object (a
        predict function, or a ``ModelService`` taken as it is). ``config`` is every version's base config
        (``model_id`` and ``model_version`` set per version) and ``schema`` their features schema."""
        base = ServingConfig.from_env() if config is None else config
        file = Path(path)
        raw = file.read_bytes()
        doc = _parse_models_file(file, raw)
        models = cls(seed=seed, default=doc["default"])
        for name, entry in doc["models"].items():
            for version, target in entry["targets"].items():
                obj = load(target)
                if isinstance(obj, ModelService):
                    if (obj.config.model_id, obj.config.model_version) != (name, version):
                        raise ValueError(
                            f"{file}: {target} is a ModelService named {obj.config.model_id!r} version "
                            f"{obj.config.model_version!r}, not {name!r} {version!r}"
                        )
                    service = obj
                elif callable(obj):
                    cfg = base.replace(model_id=name, model_version=version)
                    service = ModelService(obj, config=cfg, schema=schema)
                else:
                    raise ValueError(f"{file}: {target} is neither a predict function nor a ModelService")
                models.add(service)
            models._models[name].apply(entry["policy"])
        models._file, models._file_digest = file, hashlib.sha256(raw).digest()
        return models

    def reload(self) -> bool:
        """Apply the models file's weights and shadows again if it changed; True when applied. A file that
        fails to parse, or names other models or versions than those served, is logged and changes nothing."""
        if self._file is None:
            return False
        try:
            raw = self._file.read_bytes()
            digest = hashlib.sha256(raw).digest()
            if digest == self._file_digest:
                return False
            doc = _parse_models_file(self._file, raw)
            served = {name: set(m.versions) for name, m in self._models.items()}
            named = {name: set(entry["targets"]) for name, entry in doc["models"].items()}
            if served != named:
                raise ValueError("models or versions changed: restart the service to add or remove them")
            for name, entry in doc["models"].items():  # check every policy before applying any
                _check_policy(self._models[name], entry["policy"])
            for name, entry in doc["models"].items():
                self.set_traffic(name, entry["policy"])
        except (OSError, ValueError) as exc:
            _LOG.error(json.dumps({"event": "reload_failed", "file": str(self._file), "error": str(exc)}))
            return False
        self._file_digest = digest
        _LOG.info(json.dumps({"event": "reloaded", "file": str(self._file)}))
        return True


def _check_policy(model: _Model, policy: TrafficPolicy) -> None:
    unknown = [v for v in (*policy.weights, policy.shadow) if v is not None and v not in model.versions]
    if unknown:
        raise ValueError(f"model {model.name!r} has no version {unknown[0]!r}")


def _parse_models_file(file: Path, raw: bytes) -> dict[str, Any]:
    """``{"default": name | None, "models": {name: {"targets": {version: target}, "policy": TrafficPolicy}}}``."""
    try:
        doc = json.loads(raw) if file.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file}: not valid {'JSON' if file.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    where = str(file)
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict) or not doc["models"]:
        raise ValueError(f"{where}: expected a [models.NAME] table per model")
    extra = set(doc) - {"models", "default"}
    if extra:
        raise ValueError(f"{where}: unknown top-level key(s) {sorted(extra)}; expected models, default")
    default = doc.get("default")
    if default is not None and default not in doc["models"]:
        raise ValueError(f"{where}: default names no model in [models]")
    out: dict[str, Any] = {}
    for name, entry in doc["models"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("versions"), dict) or not entry["versions"]:
            raise ValueError(f"{where}: models.{name} needs a versions table")
        extra = set(entry) - {"versions", "shadow", "shadow_fraction"}
        if extra:
            raise ValueError(f"{where}: models.{name}: unknown key(s) {sorted(extra)}")
        targets: dict[str, str] = {}
        weights: dict[str, Any] = {}
        for version, spec in entry["versions"].items():
            if isinstance(spec, str):
                spec = {"target": spec}
            if not isinstance(spec, dict) or not isinstance(spec.get("target"), str) or set(spec) - _VERSION_KEYS:
                expected = 'expected "MODULE:ATTR" or {target, weight}'
                raise ValueError(f"{where}: models.{name}.versions.{version}: {expected}")
            targets[str(version)] = spec["target"]
            if "weight" in spec:
                weights[str(version)] = spec["weight"]
        if not weights:
            weights = {next(iter(targets)): 1.0}
        try:
            policy = TrafficPolicy(weights, entry.get("shadow"), entry.get("shadow_fraction", 1.0))
        except ValueError as exc:
            raise ValueError(f"{where}: models.{name}: {exc}") from None
        unknown = [v for v in (*policy.weights, policy.shadow) if v is not None and v not in targets]
        if unknown:
            raise ValueError(f"{where}: models.{name}: no version {unknown[0]!r}")
        out[name] = {"targets": targets, "policy": policy}
    return {"default": default, "models": out}


def _comparable(response: ServingResponse) -> Any:
    """A response body without the fields that differ between any two answers (JSON), or the bytes as they are."""
    try:
        doc = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return response.body
    return _strip(doc)


def _strip(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k not in _VOLATILE}
    return doc


class _SetCollector:
    """Every version's registry as one: samples with the same name and labels are summed (``_created``: the
    earliest), families in first-seen order; then the shadow comparison counter."""

    def __init__(self, models: ModelSet) -> None:
        self.models = models

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import CounterMetricFamily, Metric
        from prometheus_client.samples import Sample

        families: dict[str, Metric] = {}
        values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], Sample]] = {}
        for service in self.models.services():
            for family in service.registry.collect():
                into = families.get(family.name)
                if into is None:
                    into = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                    values[family.name] = {}
                seen = values[family.name]
                for s in family.samples:
                    key = (s.name, tuple(sorted(s.labels.items())))
                    old = seen.get(key)
                    if old is None:
                        seen[key] = s
                    else:
                        value = min(old.value, s.value) if s.name.endswith("_created") else old.value + s.value
                        seen[key] = old._replace(value=value)
        for name, family in families.items():
            family.samples = list(values[name].values())
            yield family
        shadows = CounterMetricFamily(
            "ml_shadow_comparisons",
            "Shadow copies of requests by model, primary and shadow version, and outcome "
            "(match, differ, error, dropped).",
            labels=("model_id", "primary_version", "shadow_version", "outcome"),
        )
        for (model, primary, shadow, outcome), count in sorted(self.models.shadow_counts().items()):
            shadows.add_metric((model, primary, shadow, outcome), count)
        yield shadows


class _Families:
    """Ready metric families as a collector (the shadow counter beside the multiprocess files)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        return iter(self.families)
