"""`make demo`: train a scikit-learn iris classifier and serve it with datason.serving on 127.0.0.1.

Usage (from the repository root, with the project's virtualenv):

    .venv/bin/python examples/demo.py                 # http://127.0.0.1:8000
    .venv/bin/python examples/demo.py --port 0        # any free port (the real one is printed)
    .venv/bin/python examples/demo.py --dashboard     # and the monitoring dashboard at http://127.0.0.1:8501

Once the service answers ``/ready`` the demo prints working ``curl`` commands (a prediction, a validation
error, health and metrics) and serves until Ctrl-C or SIGTERM. With ``--dashboard`` (what ``make demo``
passes) it also runs ``datason dashboard`` pointed at the service (``--dashboard-port``, default 8501; 0
picks a free one), prints its URL once it answers, and stops it on the way out. ``benchmarks/serving.py`` imports
``train``, ``make_predict`` and ``SCHEMA`` from here, so the benchmark serves exactly this model.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

MODEL_ID = "iris"
MODEL_VERSION = "1.0.0"
# request field -> column of sklearn's iris data (centimetres)
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "description": f"{name} in cm"}
        for name in FEATURES
    },
    "required": list(FEATURES),
    "additionalProperties": False,
}
EXAMPLE = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
INVALID = {**EXAMPLE, "petal_width": "wide"}  # a string where the schema wants a number: 422 naming petal_width


def train() -> tuple[Any, list[str], float]:
    """Fit a logistic regression on sklearn's bundled iris data (nothing downloaded, ~50 ms).

    Returns (model, class names, training accuracy).
    """
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    return model, [str(n) for n in iris.target_names], float(model.score(iris.data, iris.target))


def make_predict(model: Any, classes: list[str]) -> Callable[[Mapping[str, float]], dict[str, Any]]:
    """A predict function over named features that returns NumPy values as they come out of scikit-learn.

    The toolkit turns the ``np.float64`` probabilities and ``np.int64`` index into plain JSON numbers.
    """
    import numpy as np

    def predict(features: Mapping[str, float]) -> dict[str, Any]:
        """Class name, class index and per-class probabilities for one flower."""
        row = np.array([[features[name] for name in FEATURES]], dtype=np.float64)
        proba = model.predict_proba(row)[0]
        best = np.argmax(proba)
        return {
            "species": classes[best],
            "class_index": best,
            "probabilities": dict(zip(classes, proba, strict=True)),
        }

    return predict


def curl_commands(base: str) -> list[tuple[str, str]]:
    """(comment, command) for each example request against ``base`` (e.g. http://127.0.0.1:8000)."""
    status = shlex.quote(r"\nHTTP %{http_code}\n")
    post = f"curl -sS -w {status} -H 'Content-Type: application/json' -d"
    return [
        ("a prediction (200)", f"{post} {shlex.quote(json.dumps({'features': EXAMPLE}))} {base}/predict"),
        (
            "a validation error (422, names petal_width)",
            f"{post} {shlex.quote(json.dumps({'features': INVALID}))} {base}/predict",
        ),
        ("health", f"curl -sS -w {status} {base}/health"),
        ("Prometheus metrics", f"curl -sS {base}/metrics"),
    ]


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def wait_until_answers(url: str, server: Any, timeout: float) -> bool:
    """Poll ``url`` until it answers 200 (False when the timeout passes or the server is stopping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.should_exit:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return False


def announce_when_ready(base: str, server: Any, timeout: float = 60.0, dashboard: str | None = None) -> None:
    """Poll ``/ready`` until it answers 200, then print the curl commands (runs in a thread)."""
    if not wait_until_answers(f"{base}/ready", server, timeout):
        print(f"the service did not become ready at {base}/ready", file=sys.stderr, flush=True)
        return
    lines = ["", f"Ready at {base}. Try it from another terminal:", ""]
    for comment, command in curl_commands(base):
        lines += [f"  # {comment}", f"  {command}", ""]
    if dashboard is not None:
        if wait_until_answers(f"{dashboard}/_stcore/health", server, 2 * timeout):
            lines += [f"Dashboard at {dashboard} (Streamlit; reads {base}/health, /metrics and /openapi.json)", ""]
        else:
            print(f"the dashboard did not start at {dashboard}", file=sys.stderr, flush=True)
    lines.append("Serving until Ctrl-C or SIGTERM.")
    print("\n".join(lines), flush=True)


def start_dashboard(base: str, host: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """``datason dashboard --url base`` as a child in this process group (so Ctrl-C reaches it); (process, URL)."""
    if port == 0:
        with bind(host, 0) as probe:
            port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "datason.cli", "dashboard", "--url", base, "--host", host, "--port", str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    return process, f"http://{host}:{port}"


def stop_dashboard(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the dashboard (a no-op when the group's signal already ended it), SIGKILL after 15 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Train, build the service, serve it until a signal; 0 after a clean shutdown."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    parser.add_argument("--dashboard", action="store_true", help="also run the monitoring dashboard (Streamlit)")
    parser.add_argument("--dashboard-port", type=int, default=8501, help="the dashboard's port (default 8501)")
    args = parser.parse_args(argv)

    import sklearn.datasets
    import sklearn.linear_model  # noqa: F401  # imported here so that the training time below is the fit's
    import uvicorn

    import datason
    from datason.serving import ServingConfig, create_app

    started = time.perf_counter()
    model, classes, accuracy = train()
    print(
        f"Trained {type(model).__name__} on scikit-learn's iris data set in {time.perf_counter() - started:.2f} s: "
        f"training accuracy {accuracy:.3f}; model {MODEL_ID} version {MODEL_VERSION}; datason {datason.__version__}",
        flush=True,
    )
    config = ServingConfig(model_id=MODEL_ID, model_version=MODEL_VERSION)
    app = create_app(make_predict(model, classes), config=config, schema=SCHEMA)

    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    print(f"Serving {MODEL_ID} {MODEL_VERSION} with datason.serving at {base}", flush=True)

    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=port, log_level=args.log_level))

    def stop(signum: int, frame: object) -> None:
        """Ask uvicorn to shut down; also what uvicorn re-raises once it has, so the exit status stays 0."""
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    dashboard = start_dashboard(base, shown, args.dashboard_port) if args.dashboard else None
    announce = {"dashboard": dashboard[1]} if dashboard else {}
    threading.Thread(target=announce_when_ready, args=(base, server), kwargs=announce, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        if dashboard:
            stop_dashboard(dashboard[0])
    print("Stopped cleanly.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
