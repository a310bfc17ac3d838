"""The ``datason`` command and its subcommands.

- ``datason serve MODULE:ATTR`` serves a predict function with uvicorn. Every ``ServingConfig`` field is an
  option (``--rate-limit``...) whose default comes from its ``DATASON_SERVING_*`` variable; options win over
  variables. Request logs (one JSON line each) go to stderr at ``--log-level``; ``--ssl-*`` serve HTTPS.
  ``--model NAME[:VERSION]=MODULE:ATTR`` (repeatable) or ``--models-file FILE`` serve several models and
  versions (``datason.serving.models``), with ``--traffic`` weights and ``--shadow`` copies; SIGHUP re-reads
  the models file (and the key store).
  ``--workers N`` runs N processes behind the port (uvicorn's supervisor; each builds the service again with
  ``worker_app``, metrics in prometheus-client's multiprocess mode); ``--redis-url`` shares limits and cache.
- ``datason keys create|list|revoke|tier`` manages the API key file of the access control
  (``datason.serving.auth``): a key is printed once, only its salted hash is kept.
- ``datason dashboard --url URL`` runs the Streamlit monitoring page of a running service
  (``datason.integrations.dashboard``).
- ``datason gradio --url URL`` serves a Gradio demo page (on 127.0.0.1) that is a client of a running datason
  service (``datason.integrations.gradio_demo``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import pathlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "load_target", "main", "worker_app"]

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# CLI-only settings (not ServingConfig fields), also read from the environment.
_HOST_ENV, _PORT_ENV, _LOG_ENV = "DATASON_SERVING_HOST", "DATASON_SERVING_PORT", "DATASON_SERVING_LOG_LEVEL"
_TLS_ENV = "DATASON_SERVING_SSL_"  # + CERTFILE, KEYFILE, CA_CERTS, CLIENT_CERT
_KEYS_ENV = "DATASON_SERVING_API_KEYS"
_WORKERS_ENV = "DATASON_SERVING_WORKERS"
_WORKER_ARGS_ENV = "DATASON_SERVE_WORKER_ARGS"  # the parsed options, for the workers of --workers N (JSON)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every option documented in ``--help``)."""
    from .serving.config import FIELDS

    parser = argparse.ArgumentParser(prog="datason", description="datason command line tools.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"datason {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a predict function over HTTP: /predict, OIP v2, KServe v1, Seldon v1, MLflow; health, metrics",
        description=(
            "Serve MODULE:ATTR with uvicorn. ATTR is a predict function (def or async def) taking the "
            "request's features, or a datason.serving.ModelService. Options default to their "
            "DATASON_SERVING_* environment variables, then to the built-in defaults shown."
        ),
    )
    serve.add_argument(
        "target",
        metavar="MODULE:ATTR",
        nargs="*",
        help="the predict function or ModelService to serve (one; name several with --model or --models-file)",
    )
    server = serve.add_argument_group("server")
    host_help = f"interface to bind (env {_HOST_ENV}; default 127.0.0.1)"
    server.add_argument("--host", default=os.environ.get(_HOST_ENV, "127.0.0.1"), help=host_help)
    port_help = f"TCP port; 0 picks a free one (env {_PORT_ENV}; default 8000)"
    server.add_argument("--port", type=int, default=int(os.environ.get(_PORT_ENV, "8000")), help=port_help)
    server.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default=os.environ.get(_LOG_ENV, "info"),
        help=f"level of the JSON request log and of uvicorn's log (env {_LOG_ENV}; default info)",
    )
    server.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="uvicorn's own access log, besides the JSON request log (default off)",
    )
    server.add_argument(
        "--limit-concurrency", type=int, default=None, help="uvicorn: most concurrent connections (default unlimited)"
    )
    server.add_argument("--backlog", type=int, default=2048, help="uvicorn: listen backlog (default 2048)")
    server.add_argument(
        "--timeout-keep-alive", type=int, default=5, help="uvicorn: idle keep-alive seconds (default 5)"
    )
    server.add_argument("--app-dir", default=".", help="directory put first on sys.path to import MODULE (default .)")
    server.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get(_WORKERS_ENV, "1")),
        help=(
            f"worker processes behind the one port (env {_WORKERS_ENV}; default 1): each rebuilds the service; "
            "metrics and /health add up over all of them; share limits and cache with --redis-url"
        ),
    )
    server.add_argument(
        "--schema",
        default=None,
        help="features schema: a JSON Schema file (.json) or MODULE:ATTR naming a pydantic model or schema dict",
    )
    _add_models_options(serve)
    tls = serve.add_argument_group("HTTPS (uvicorn's TLS)")
    for option, text in (
        ("certfile", "serve HTTPS with this PEM certificate (chain)"),
        ("keyfile", "the PEM private key of --ssl-certfile"),
        ("ca-certs", "PEM CA certificates that client certificates must chain to"),
    ):
        env = _TLS_ENV + option.replace("-", "_").upper()
        tls.add_argument(f"--ssl-{option}", default=os.environ.get(env), help=f"{text} (env {env})")
    client_env = _TLS_ENV + "CLIENT_CERT"
    tls.add_argument(
        "--ssl-client-cert",
        choices=("none", "optional", "required"),
        default=os.environ.get(client_env),
        help=f"verify client certificates (env {client_env}; default required with --ssl-ca-certs, else none)",
    )
    config = serve.add_argument_group("service (ServingConfig fields)")
    for name, env, default, doc in FIELDS:
        flag = "--" + name.replace("_", "-")
        if default.startswith("("):  # tuples are given comma-separated
            default = ",".join(part.strip(" '") for part in default.strip("()").split(",") if part.strip())
        text = f"{doc} (env {env}; default {default})".replace("%", "%%")
        if default in ("True", "False") or name == "sync_in_thread":
            config.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            config.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=text)
    _add_gradio_parser(commands)
    _add_dashboard_parser(commands)
    _add_keys_parser(commands)
    return parser


def _add_models_options(serve: Any) -> None:
    """``datason serve``'s options for several models and versions (``datason.serving.models``)."""
    group = serve.add_argument_group(
        "several models and versions",
        "Give --model (repeatable) or --models-file to serve several models, or versions of a model, from one "
        "service: /v2/models/NAME/versions/V/infer, the X-Model-Name and X-Model-Version headers, traffic "
        "weights (--traffic), shadow copies (--shadow), PUT /admin/models/NAME/traffic, a reload on SIGHUP.",
    )
    group.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[:VERSION]=MODULE:ATTR",
        help="serve MODULE:ATTR as VERSION (default --model-version) of model NAME (repeatable); the first "
        "version given of a model gets its traffic until --traffic says otherwise",
    )
    group.add_argument(
        "--models-file",
        default=None,
        metavar="FILE",
        help="a TOML (or .json) file of models, versions, targets, weights and shadows (docs/serving.md); "
        "re-read on SIGHUP: changed weights and shadows apply without a restart",
    )
    group.add_argument(
        "--traffic",
        action="append",
        default=[],
        metavar="NAME=VERSION:WEIGHT,...",
        help="weights of a model's versions, e.g. iris=1:90,2:10 (repeatable, one per model)",
    )
    group.add_argument(
        "--shadow",
        action="append",
        default=[],
        metavar="NAME=VERSION[@FRACTION]",
        help="send a copy of model NAME's requests (all, or FRACTION of them) to VERSION: logged, compared, "
        "never returned",
    )


def _models(args: argparse.Namespace, config: Any, schema: Any) -> Any:
    """The ``ModelSet`` of ``--model``/``--models-file``/``--traffic``/``--shadow`` and the targets, or None
    when one target is served alone."""
    from .serving import ModelService
    from .serving.models import ModelSet, TrafficPolicy

    several = args.model or args.models_file or args.traffic or args.shadow
    if not several:
        if len(args.target) != 1:
            raise ValueError(
                "give one MODULE:ATTR, or name several with --model NAME[:VERSION]=MODULE:ATTR or --models-file"
            )
        return None
    if len(args.target) > 1:
        raise ValueError("several targets: name each with --model NAME[:VERSION]=MODULE:ATTR")

    def load(spec: str) -> Any:
        return load_target(spec, args.app_dir)

    if args.models_file:
        models = ModelSet.from_file(args.models_file, load=load, config=config, schema=schema)
    else:
        models = ModelSet()
    entries = [(config.model_id, config.model_version, t) for t in args.target]
    for text in args.model:
        label, sep, target = text.partition("=")
        name, _, version = label.partition(":")
        if not sep or not name or not target:
            raise ValueError(f"--model expects NAME[:VERSION]=MODULE:ATTR, got {text!r}")
        entries.append((name, version or config.model_version, target))
    for name, version, target in entries:
        obj = load(target)
        if isinstance(obj, ModelService):
            raise ValueError(f"{target} is a ModelService: serve it alone, or give --model a predict function")
        if not callable(obj):
            raise ValueError(f"{target} is neither a predict function nor a ModelService")
        models.add(ModelService(obj, config=config.replace(model_id=name, model_version=version), schema=schema))
    for text in args.traffic:
        name, sep, spec = text.partition("=")
        weights: dict[str, float] = {}
        for part in spec.split(","):
            version, colon, weight = part.rpartition(":")
            try:
                weights[version] = float(weight)
            except ValueError:
                raise ValueError(f"--traffic expects NAME=VERSION:WEIGHT,..., got {text!r}") from None
            if not colon or not version:
                raise ValueError(f"--traffic expects NAME=VERSION:WEIGHT,..., got {text!r}")
        if not sep:
            raise ValueError(f"--traffic expects NAME=VERSION:WEIGHT,..., got {text!r}")
        old = models.traffic(name) if name in models.names else None
        shadow = (old.shadow, old.shadow_fraction) if old is not None else (None, 1.0)
        models.set_traffic(name, TrafficPolicy(weights, *shadow))
    for text in args.shadow:
        name, sep, spec = text.partition("=")
        version, at, fraction = spec.partition("@")
        if not sep or not version:
            raise ValueError(f"--shadow expects NAME=VERSION[@FRACTION], got {text!r}")
        try:
            share = float(fraction) if at else 1.0
        except ValueError:
            raise ValueError(f"--shadow expects NAME=VERSION[@FRACTION], got {text!r}") from None
        if name not in models.names:
            raise ValueError(f"--shadow: no model {name!r}")
        models.set_traffic(name, TrafficPolicy(models.traffic(name).weights, version, share))
    return models


def _add_gradio_parser(commands: Any) -> None:
    """``datason gradio``: the Gradio demo of a running datason service."""
    demo = commands.add_parser(
        "gradio",
        help="a Gradio demo of a running datason service: a form from its schema, its typed answer, a plot",
        description=(
            "Serve a Gradio page (on 127.0.0.1) that is a client of the datason service at --url: a form built "
            "from its /openapi.json, JSON and file input, the typed response and a bar plot of class "
            'probabilities. Needs pip install "datason[gradio]".'
        ),
    )
    demo.add_argument("--url", default="http://127.0.0.1:8000", help="the datason service (default %(default)s)")
    demo.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    demo.add_argument(
        "--port", type=int, default=None, help="TCP port; 0 picks a free one (default Gradio's: 7860 or the next free)"
    )
    demo.add_argument("--example", default=None, help="features to start with: JSON text or a JSON file")
    demo.add_argument(
        "--probabilities",
        default="probabilities",
        help="the prediction's key holding class probabilities, plotted (default %(default)s)",
    )
    demo.add_argument("--timeout", type=float, default=10.0, help="seconds per request to the service (default 10)")


def load_target(spec: str, app_dir: str = ".") -> Any:
    """The object ``MODULE:ATTR`` names (ATTR may be dotted), importing MODULE from ``app_dir`` first."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:ATTR, got {spec!r}")
    path = str(pathlib.Path(app_dir).resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _load_schema(spec: str, app_dir: str) -> Any:
    if spec.endswith(".json") or pathlib.Path(spec).is_file():
        return json.loads(pathlib.Path(spec).read_text(encoding="utf-8"))
    return load_target(spec, app_dir)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """ServingConfig keyword arguments from the options given, as the field types (env parsing rules)."""
    from .serving.config import FIELDS, parse_value
    from .serving.config import ServingConfig as Cfg

    defaults = {f: getattr(Cfg(), f) for f, _, _, _ in FIELDS}
    out: dict[str, Any] = {}
    for name, _, _, _ in FIELDS:
        value = getattr(args, name)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        out[name] = value if isinstance(value, bool) else parse_value(name, value, defaults[name], source=flag)
    return out


def _configure_logging(level: str) -> None:
    """JSON request lines, one per line, to stderr at ``level`` (already JSON: no decoration), flushed in batches."""
    from .serving.requestlog import LineHandler

    logger = logging.getLogger("datason.serving")
    handler = LineHandler(sys.stderr)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def _build_app(args: argparse.Namespace) -> Any:
    """The ``ServingApp`` the options describe (what each worker of ``--workers N`` builds again)."""
    from .serving import ModelService, ServingApp, ServingConfig, create_app

    overrides = _overrides(args)
    schema = _load_schema(args.schema, args.app_dir) if args.schema else None
    models = _models(args, ServingConfig.from_env(**overrides), schema)
    if models is not None:
        return create_app(models)
    target = load_target(args.target[0], args.app_dir)
    if isinstance(target, ServingApp | ModelService):
        if overrides or args.schema:
            raise ValueError("MODULE:ATTR is already a ModelService: configure it in code, not with options")
        return target if isinstance(target, ServingApp) else create_app(target)
    if callable(target):
        return create_app(target, config=ServingConfig.from_env(**overrides), schema=schema)
    raise ValueError(f"{args.target[0]} is neither a predict function nor a ModelService")


def serve(args: argparse.Namespace) -> int:
    """Build the app from the parsed options and run it until interrupted."""
    import uvicorn

    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    app = _build_app(args)  # with --workers N too: option and import errors are reported here, once
    if args.workers > 1:
        return _serve_workers(args)
    _configure_logging(args.log_level)
    auth = app.service.auth
    if hasattr(signal, "SIGHUP") and (auth is not None or app.models is not None):
        # rotate keys, apply a changed models file, without a restart: kill -HUP <pid>
        set_ = app.models

        def reload(*_: Any) -> None:
            if auth is not None:
                auth.request_reload()
            if set_ is not None:
                set_.reload()

        signal.signal(signal.SIGHUP, reload)
    uvicorn.run(app, **_uvicorn_options(args))
    return 0


def _uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="on",
        limit_concurrency=args.limit_concurrency,
        backlog=args.backlog,
        timeout_keep_alive=args.timeout_keep_alive,
        **_tls_options(args),
    )


def _serve_workers(args: argparse.Namespace) -> int:
    """``--workers N``: uvicorn's supervisor and N processes, each calling ``worker_app`` to build the service.

    The options travel to the workers in an environment variable; ``PROMETHEUS_MULTIPROC_DIR`` (a temporary
    directory, removed at exit, unless it is already set) puts every worker's metrics in shared files.
    """
    import shutil
    import tempfile

    import uvicorn

    from .serving import multiproc

    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        made = tempfile.mkdtemp(prefix="datason-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    os.environ[_WORKER_ARGS_ENV] = json.dumps(vars(args))
    os.environ[multiproc.OWNER_ENV] = "1"
    try:
        uvicorn.run("datason.cli:worker_app", factory=True, workers=args.workers, **_uvicorn_options(args))
    finally:
        os.environ.pop(_WORKER_ARGS_ENV, None)
        os.environ.pop(multiproc.OWNER_ENV, None)
        if made is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(made, ignore_errors=True)
    return 0


def worker_app() -> Any:
    """The app of one worker of ``datason serve --workers N`` (uvicorn's factory, called in the worker)."""
    import atexit

    from .serving import multiproc

    raw = os.environ.get(_WORKER_ARGS_ENV)
    if raw is None:
        raise RuntimeError(f"worker_app runs in the workers of datason serve --workers N ({_WORKER_ARGS_ENV} unset)")
    args = argparse.Namespace(**json.loads(raw))
    app = _build_app(args)
    _configure_logging(args.log_level)
    if multiproc.enabled():
        atexit.register(multiproc.mark_process_dead, os.getpid())
    return app


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's ``ssl_*`` arguments from the ``--ssl-*`` options (none without ``--ssl-certfile``)."""
    import ssl

    if args.ssl_certfile is None:
        if args.ssl_keyfile or args.ssl_ca_certs or args.ssl_client_cert:
            raise ValueError("--ssl-keyfile, --ssl-ca-certs and --ssl-client-cert need --ssl-certfile")
        return {}
    for path in (args.ssl_certfile, args.ssl_keyfile, args.ssl_ca_certs):
        if path is not None and not pathlib.Path(path).is_file():
            raise ValueError(f"no such file: {path}")
    mode = args.ssl_client_cert or ("required" if args.ssl_ca_certs else "none")
    if mode != "none" and args.ssl_ca_certs is None:
        raise ValueError("--ssl-client-cert optional/required needs --ssl-ca-certs")
    reqs = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}[mode]
    return {
        "ssl_certfile": args.ssl_certfile,
        "ssl_keyfile": args.ssl_keyfile,
        "ssl_ca_certs": args.ssl_ca_certs,
        "ssl_cert_reqs": reqs,
    }


def _add_dashboard_parser(commands: Any) -> None:
    """``datason dashboard``: the Streamlit monitoring page of a running service."""
    dashboard = commands.add_parser(
        "dashboard",
        help="the monitoring dashboard (Streamlit) of a running datason service",
        description=(
            "Run the Streamlit dashboard of a datason service: metrics, latency and request charts, predictions "
            "by JSON, form or file, recent predictions. It reads the service's /health, /metrics and "
            "/openapi.json. Several --url options (one service per model version) add a version selector. "
            'Needs pip install "datason[dashboard]".'
        ),
    )
    dashboard.add_argument(
        "--url", action="append", default=None, help="a datason service (repeatable; default http://127.0.0.1:8000)"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="interface the page binds (default 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8501, help="TCP port of the page (default 8501)")
    dashboard.add_argument(
        "--refresh", type=float, default=2.0, help="seconds between live refreshes; 0 turns them off (default 2)"
    )


def _dashboard(args: argparse.Namespace) -> int:
    """``datason dashboard``: become ``python -m streamlit run`` of the page (signals go to Streamlit itself)."""
    import importlib.util

    from .integrations.dashboard import PAGE

    if importlib.util.find_spec("streamlit") is None:
        print('datason dashboard: error: needs Streamlit: pip install "datason[dashboard]"', file=sys.stderr)
        return 2
    urls = args.url or ["http://127.0.0.1:8000"]
    argv = [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.headless", "true"]
    argv += ["--server.address", args.host, "--server.port", str(args.port), "--browser.gatherUsageStats", "false"]
    argv += ["--client.toolbarMode", "minimal"]
    argv += ["--", "--refresh", str(args.refresh)]
    for url in urls:
        argv += ["--url", url]
    print(f"datason dashboard at http://{args.host}:{args.port} for {', '.join(urls)}", flush=True)
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces this process


def _gradio(args: argparse.Namespace) -> int:
    """``datason gradio``: build the demo for ``--url`` and serve it until interrupted."""
    try:
        from .integrations.gradio_demo import launch

        example = None
        if args.example is not None:
            text = args.example.strip()
            source = text if text[:1] in "{[" else pathlib.Path(text).read_text(encoding="utf-8")
            from .api import loads

            example = loads(source)
        launch(
            args.url,
            host=args.host,
            port=args.port,
            example=example,
            probabilities=args.probabilities,
            timeout=args.timeout,
        )
    except (ValueError, ImportError, OSError) as exc:
        print(f"datason gradio: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_keys_parser(commands: Any) -> None:
    """``datason keys``: create (printed once), list and revoke API keys; define rate-limit tiers."""
    keys = commands.add_parser(
        "keys",
        help="manage the API keys of datason serve: create (shown once), list, revoke, tiers",
        description=(
            "The key store is a JSON file of key names, scopes, tiers and salted key hashes (never the keys): "
            "give it to datason serve --api-keys FILE. A running server picks changes up within a second "
            "(or at once on SIGHUP)."
        ),
    )
    keys.add_argument(
        "--file",
        default=os.environ.get(_KEYS_ENV),
        help=f"the key store (env {_KEYS_ENV}); created by the first `create`",
    )
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="add a key and print it (once: only its hash is kept)")
    create.add_argument("name", help="the key's name: the client id of rate limits and logs")
    create.add_argument("--scopes", default="predict", help="comma-separated: predict, metrics, admin")
    create.add_argument("--tier", default=None, help="a rate-limit tier defined with `datason keys tier`")
    actions.add_parser("list", help="key names, scopes, tiers and creation times (JSON lines)")
    revoke = actions.add_parser("revoke", help="remove a key (refused from then on)")
    revoke.add_argument("name")
    tier = actions.add_parser("tier", help="define a rate-limit tier (LIMIT in limits notation) or remove it")
    tier.add_argument("name")
    tier.add_argument("limit", nargs="?", default=None, help="e.g. 600/minute or 10/second;1000/hour; absent: remove")


def _keys(args: argparse.Namespace) -> int:
    """``datason keys ACTION``: read the store, change it, write it back atomically."""
    from .serving.auth import KeyStore

    try:
        if not args.file:
            raise ValueError(f"name the key store with --file or {_KEYS_ENV}")
        path = pathlib.Path(args.file)
        store = KeyStore.load(str(path)) if path.exists() else KeyStore()
        if args.action == "list":
            for entry in store.listing():
                print(json.dumps(entry))
            return 0
        if args.action == "create":
            scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip())
            key = store.create(args.name, scopes=scopes, tier=args.tier)
            store.save(path)
            print(key)
            print(f"key {args.name!r} created; store it now: {path} keeps only its hash", file=sys.stderr)
            return 0
        if args.action == "revoke":
            store.revoke(args.name)
        else:
            store.set_tier(args.name, args.limit)
        store.save(path)
        return 0
    except (ValueError, OSError) as exc:
        print(f"datason keys: error: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``datason`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "gradio":
        return _gradio(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if args.command == "keys":
        return _keys(args)
    if args.command != "serve":
        parser.print_help()
        return 2
    try:
        return serve(args)
    except (ValueError, TypeError, ImportError, AttributeError, OSError) as exc:
        print(f"datason serve: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
