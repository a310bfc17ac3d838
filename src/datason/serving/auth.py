"""Who may call a model service: API keys and JWT bearer tokens, scopes, per-key rate-limit tiers.

- **Keys**: ``dsk_<id>_<secret>`` (``id`` 8 hex digits naming the record, ``secret`` 256 random bits). A client
  sends one as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``. The key store (``ServingConfig.api_keys``:
  a JSON file written by ``datason keys``, or the same JSON inline) holds, per key, its name, a random salt and
  the PBKDF2-HMAC-SHA256 hash of the key, its scopes and its tier; never the key itself.
- **Checking a key**: the presented key's record is found by its id (not a secret), then its salted hash is
  compared with ``hmac.compare_digest`` (every path compares, unknown ids and malformed keys included, so no
  answer comes back earlier for a key that is "closer"). The PBKDF2 runs once per key and process; after that
  an HMAC-SHA256 under a per-process random key stands for it (also compared with ``compare_digest``), so a
  checked request costs microseconds, not milliseconds.
- **JWTs** (``jwt_key_file``: a PEM public key or a JWKS file): verified by PyJWT (signature among
  ``jwt_algorithms``, ``exp`` required, ``aud`` = ``jwt_audience``, ``iss`` = ``jwt_issuer`` when set); the
  principal is ``sub``, its scopes ``scope`` (space-separated) or ``scp``/``scopes`` (a list).
- **Scopes**: ``predict`` (prediction and metadata routes), ``metrics`` (``/metrics`` with ``metrics_auth``),
  ``admin`` (everything). A valid credential without the scope is a 403; anything else a 401, one message for
  every reason (missing, unknown, revoked, expired, wrong audience).
- **Tiers**: the store's ``tiers`` map names to ``limits`` notation; a key with a ``tier`` is rate-limited by
  it under its own name, other principals by ``ServingConfig.rate_limit``.
- **Failures**: per client address, ``auth_failure_limit`` failures are allowed; past that every request from
  the address is a 429 until the window frees (checked before any credential is looked at).
- **Rotation**: several keys are valid at once; the store file is re-read when it changes (checked at most
  once a second) or after ``request_reload()`` (``datason serve`` calls it on SIGHUP), without a restart. A
  file that fails to load leaves the keys in force unchanged (and is logged).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from .config import ServingConfig
from .errors import ForbiddenError, RateLimitedError, ServingError, UnauthorizedError
from .ratelimit import RateLimiter, parse_limits
from .sharedstate import SharedState, rate_limiter

__all__ = ["SCOPES", "Authenticator", "KeyStore", "Principal"]

SCOPES: tuple[str, ...] = ("predict", "metrics", "admin")
KEY_PREFIX = "dsk"
ITERATIONS = 10_000  # PBKDF2 rounds: keys carry 256 random bits, so the salted hash guards a stolen file, not guessing
_RELOAD_EVERY = 1.0
_UNAUTHORIZED = "authentication required"
_FORBIDDEN = "not allowed"
_LOG = logging.getLogger("datason.serving.security")  # JSON lines, like the request log


class Principal(NamedTuple):
    """An authenticated caller: ``name`` (the client id of limits and logs), its scopes and rate-limit tier."""

    name: str
    scopes: frozenset[str]
    tier: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    name: str
    id: str
    salt: bytes
    hash: bytes
    iterations: int
    principal: Principal


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"key store: {what} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"key store: {what} must be base64 text") from None


def _derive(key: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", key.encode("utf-8", "surrogatepass"), salt, iterations)


class KeyStore:
    """The key store document: ``{"version": 1, "tiers": {name: limits}, "keys": [record...]}``.

    ``create``, ``revoke``, ``set_tier`` change the document; ``save`` writes it atomically (a new file renamed
    over the old one, mode 0600), so a server reloading it never reads half a file.
    """

    def __init__(self, doc: Mapping[str, Any] | None = None) -> None:
        doc = {"version": 1, "tiers": {}, "keys": []} if doc is None else doc
        if not isinstance(doc, Mapping) or doc.get("version") != 1:
            raise ValueError('key store: expected a JSON object with "version": 1')
        tiers = doc.get("tiers", {})
        keys = doc.get("keys", [])
        if not isinstance(tiers, Mapping) or not isinstance(keys, list):
            raise ValueError('key store: "tiers" must be an object and "keys" a list')
        self.tiers: dict[str, str] = {}
        for name, spec in tiers.items():
            if not isinstance(spec, str):
                raise ValueError(f"key store: tier {name!r} must be limits notation, e.g. '100/minute'")
            parse_limits(spec)
            self.tiers[str(name)] = spec
        self.keys: list[dict[str, Any]] = [dict(k) for k in keys]
        self.records: dict[str, _Record] = {}
        names: set[str] = set()
        for entry in self.keys:
            record = self._record(entry)
            if record.id in self.records or record.name in names:
                raise ValueError(f"key store: key {record.name!r} appears twice")
            names.add(record.name)
            self.records[record.id] = record

    def _record(self, entry: Mapping[str, Any]) -> _Record:
        name, key_id = entry.get("name"), entry.get("id")
        if not isinstance(name, str) or not name or not isinstance(key_id, str) or not key_id:
            raise ValueError("key store: every key needs a name and an id")
        scopes = entry.get("scopes", ["predict"])
        if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes):
            raise ValueError(f"key store: key {name!r}: scopes must be a list of {SCOPES}")
        tier = entry.get("tier")
        if tier is not None and tier not in self.tiers:
            raise ValueError(f"key store: key {name!r} names tier {tier!r}, which the store does not define")
        iterations = entry.get("iterations", ITERATIONS)
        if type(iterations) is not int or iterations < 1:
            raise ValueError(f"key store: key {name!r}: iterations must be a positive int")
        return _Record(
            name,
            key_id,
            _unb64(entry.get("salt"), f"key {name!r} salt"),
            _unb64(entry.get("hash"), f"key {name!r} hash"),
            iterations,
            Principal(name, frozenset(scopes), tier),
        )

    # -- the document ------------------------------------------------------------------------------------

    @classmethod
    def load(cls, source: str) -> KeyStore:
        """The store in ``source``: inline JSON (starts with ``{``) or a file path."""
        text = source if source.lstrip().startswith("{") else Path(source).read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except ValueError:
            raise ValueError("key store: not valid JSON") from None
        return cls(doc)

    def document(self) -> dict[str, Any]:
        return {"version": 1, "tiers": dict(self.tiers), "keys": [dict(k) for k in self.keys]}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the store to ``path`` atomically, readable by its owner only."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.document(), f, indent=2)
            f.write("\n")
        os.replace(tmp, target)

    def create(
        self,
        name: str,
        *,
        scopes: tuple[str, ...] = ("predict",),
        tier: str | None = None,
        iterations: int = ITERATIONS,
    ) -> str:
        """Add a key named ``name``; returns the key itself (shown once: the store keeps its salted hash only)."""
        if not name or any(c.isspace() for c in name):
            raise ValueError("key name must be non-empty, without spaces")
        if any(k.get("name") == name for k in self.keys):
            raise ValueError(f"a key named {name!r} exists; revoke it first or pick another name")
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ValueError(f"scopes must be some of {SCOPES}")
        if tier is not None and tier not in self.tiers:
            raise ValueError(f"unknown tier {tier!r}; define it with `datason keys tier {tier} 100/minute`")
        key_id = secrets.token_hex(4)
        while key_id in self.records:
            key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        entry: dict[str, Any] = {
            "name": name,
            "id": key_id,
            "salt": _b64(salt),
            "hash": _b64(_derive(key, salt, iterations)),
            "iterations": iterations,
            "scopes": list(dict.fromkeys(scopes)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if tier is not None:
            entry["tier"] = tier
        self.records[key_id] = self._record(entry)
        self.keys.append(entry)
        return key

    def revoke(self, name: str) -> None:
        """Remove the key named ``name`` (ValueError if there is none)."""
        kept = [k for k in self.keys if k.get("name") != name]
        if len(kept) == len(self.keys):
            raise ValueError(f"no key named {name!r}")
        self.keys = kept
        self.records = {r.id: r for r in self.records.values() if r.name != name}

    def set_tier(self, name: str, spec: str | None) -> None:
        """Define (or with ``spec=None`` remove) the rate-limit tier ``name``."""
        if spec is None:
            if any(k.get("tier") == name for k in self.keys):
                raise ValueError(f"tier {name!r} is in use by a key")
            self.tiers.pop(name, None)
            return
        parse_limits(spec)
        self.tiers[name] = spec

    def listing(self) -> list[dict[str, Any]]:
        """Name, scopes, tier and creation time of every key (nothing secret)."""
        return [
            {
                "name": k["name"],
                "scopes": k.get("scopes", ["predict"]),
                "tier": k.get("tier"),
                "created": k.get("created"),
            }
            for k in self.keys
        ]


class Authenticator:
    """The access checks of one service: ``admit(headers, peer, scope)`` gives the ``Principal`` or raises.

    Raises ``UnauthorizedError`` (401), ``ForbiddenError`` (403) or ``RateLimitedError`` (429, too many
    failures from ``peer``). ``limiter(principal)`` is the rate limiter of the principal's tier (or the service's).
    """

    def __init__(
        self, config: ServingConfig, service_limiter: RateLimiter | None, *, shared: SharedState | None = None
    ) -> None:
        self._source = config.api_keys
        self._path: Path | None = None
        if self._source is not None and not self._source.lstrip().startswith("{"):
            self._path = Path(self._source)
        self._pepper = secrets.token_bytes(32)  # this process's HMAC key for keys already checked
        self._dummy = hmac.new(self._pepper, b"no such key", hashlib.sha256).digest()
        self._verified: dict[str, tuple[bytes, bytes]] = {}  # key id -> (its stored hash, HMAC of the key)
        self._lock = threading.Lock()
        self._strategy = config.rate_limit_strategy
        self._service_limiter = service_limiter
        self._tier_limiters: dict[str, RateLimiter] = {}
        self._shared = shared  # Redis for the tiers and the failure limit (issue 18), None: process memory
        self._failures = rate_limiter(config.auth_failure_limit, config.rate_limit_strategy, shared, "auth_failures")
        # Clients with a failure inside the longest window: only they are looked up in the failure limiter, so
        # a request from a client that never failed pays one dict lookup, not a limiter test.
        self._window = max(item.get_expiry() for item in parse_limits(config.auth_failure_limit))
        self._suspects: dict[str, float] = {}
        self._reload = False
        self._next_check = time.monotonic() + _RELOAD_EVERY
        self._stamp: tuple[int, int, int] | None = None
        self._store = KeyStore()
        if self._source is not None:
            self._stamp = self._file_stamp()
            self._install(KeyStore.load(self._source))  # a bad store fails the service's construction
        self._jwt = _JwtVerifier(config) if config.jwt_key_file is not None else None

    # -- key store and reloads ---------------------------------------------------------------------------

    def request_reload(self) -> None:
        """Re-read the key store before the next request (safe to call from a signal handler)."""
        self._reload = True

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if not self._reload and now < self._next_check:
            return
        self._next_check = now + _RELOAD_EVERY
        forced, self._reload = self._reload, False
        if self._source is None:
            return
        stamp = self._file_stamp()
        if not forced and stamp == self._stamp:
            return
        self._stamp = stamp  # a file that fails to load is tried again when it changes (or on request_reload)
        try:
            store = KeyStore.load(self._source)
        except (OSError, ValueError) as exc:
            _log(logging.ERROR, {"event": "keys_not_reloaded", "error": str(exc), "kept": len(self._store.records)})
            return
        self._install(store)
        _log(logging.WARNING, {"event": "keys_reloaded", "keys": len(store.records)})

    def _install(self, store: KeyStore) -> None:
        limiters = {}
        for name, spec in store.tiers.items():
            old = self._tier_limiters.get(name)
            if old is None or old.spec != spec:
                old = rate_limiter(spec, self._strategy, self._shared, f"tier:{name}")
            limiters[name] = old
        with self._lock:
            self._store = store
            self._tier_limiters = limiters
            # a key still in force with the same hash stays checked; a revoked or replaced one is forgotten
            self._verified = {
                i: v
                for i, v in self._verified.items()
                if i in store.records and hmac.compare_digest(store.records[i].hash, v[0])
            }

    # -- checks ------------------------------------------------------------------------------------------

    def admit(self, headers: Mapping[str, str], peer: str, scope: str) -> Principal:
        """The caller named by ``headers`` (lower-case names), allowed ``scope``; raises the 401/403/429."""
        self._maybe_reload()
        suspect = self._suspects.get(peer)
        if suspect is not None:
            if suspect < time.monotonic():
                self._suspects.pop(peer, None)
            else:
                retry = self._failures.exhausted(peer)
                if retry is not None:
                    refused = RateLimitedError(retry)
                    refused.from_auth_failures = True
                    raise refused
        principal = self._authenticate(headers)
        if principal is None:
            self._failed(peer)
            raise UnauthorizedError(_UNAUTHORIZED)
        if not principal.allows(scope):
            error = ForbiddenError(_FORBIDDEN)
            error.client = principal.name
            raise error
        return principal

    def _failed(self, peer: str) -> None:
        now = time.monotonic()
        if len(self._suspects) > 100_000:  # bounded: forget the clients whose window has passed
            self._suspects = {p: t for p, t in self._suspects.items() if t >= now}
        self._suspects[peer] = now + self._window
        self._failures.check(peer)

    def limiter(self, principal: Principal) -> RateLimiter | None:
        if principal.tier is not None:
            limiter = self._tier_limiters.get(principal.tier)
            if limiter is not None:
                return limiter
        return self._service_limiter

    def _authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        key = headers.get("x-api-key")
        if key is None:
            auth = headers.get("authorization")
            if auth is None:
                return None
            scheme, _, token = auth.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return None
            if self._jwt is not None and token.count(".") == 2 and not token.startswith(KEY_PREFIX + "_"):
                return self._jwt.verify(token)
            key = token
        return self.verify_key(key)

    def verify_key(self, key: str) -> Principal | None:
        """The principal of ``key``, or None; every path ends in ``hmac.compare_digest``."""
        mac = hmac.new(self._pepper, key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        parts = key.split("_", 2)
        record = self._store.records.get(parts[1]) if len(parts) == 3 and parts[0] == KEY_PREFIX else None
        if record is None:
            hmac.compare_digest(mac, self._dummy)  # the same comparison as for a known id: no shortcut
            return None
        seen = self._verified.get(record.id)  # kept in step with the store by _install
        if seen is not None:
            return record.principal if hmac.compare_digest(mac, seen[1]) else None
        if hmac.compare_digest(_derive(key, record.salt, record.iterations), record.hash):
            with self._lock:
                self._verified[record.id] = (record.hash, mac)
            return record.principal
        return None


def _log(level: int, line: dict[str, Any]) -> None:
    if _LOG.isEnabledFor(level):
        _LOG.log(level, "%s", json.dumps(line))


class _JwtVerifier:
    """JWT checks with PyJWT: signature (PEM key or JWKS by ``kid``), ``exp``, ``aud``, ``iss``."""

    def __init__(self, config: ServingConfig) -> None:
        try:
            import jwt
        except ImportError as exc:
            raise ImportError('JWT verification needs PyJWT: pip install "datason[auth]"') from exc
        self._jwt = jwt
        path = Path(str(config.jwt_key_file))
        text = path.read_text(encoding="utf-8")
        self._keys: dict[str | None, Any] = {}
        if text.lstrip().startswith("{"):
            try:
                jwks = jwt.PyJWKSet.from_json(text)
            except Exception as exc:
                raise ValueError(f"jwt_key_file: not a usable JWKS ({type(exc).__name__})") from None
            for jwk in jwks.keys:
                self._keys[jwk.key_id] = jwk.key
        else:
            self._keys[None] = text  # a PEM public key: PyJWT loads it for the token's algorithm
        self._audience = config.jwt_audience
        self._issuer = config.jwt_issuer
        self._algorithms = list(config.jwt_algorithms)

    def verify(self, token: str) -> Principal | None:
        jwt = self._jwt
        try:
            if None in self._keys:
                key = self._keys[None]
            else:
                kid = jwt.get_unverified_header(token).get("kid")
                key = self._keys.get(kid) if kid is not None else next(iter(self._keys.values()), None)
                if key is None:
                    return None
            options: dict[str, Any] = {"require": ["exp", "sub", "aud"] + (["iss"] if self._issuer else [])}
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=options,
            )
        except Exception:  # expired, wrong audience or issuer, bad signature, malformed: all the same 401
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        raw = claims.get("scope")
        scopes = raw.split() if isinstance(raw, str) else claims.get("scp", claims.get("scopes", []))
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list):
            scopes = []
        return Principal(subject, frozenset(s for s in scopes if isinstance(s, str)))


def unauthorized_headers(error: ServingError) -> tuple[tuple[str, str], ...]:
    """The ``WWW-Authenticate`` challenge of a 401 (nothing for other errors)."""
    return (("www-authenticate", 'Bearer realm="datason"'),) if isinstance(error, UnauthorizedError) else ()
