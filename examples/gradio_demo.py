"""Gradio + datason: a page in front of the reference iris service (``make demo``), from Python.

Start the service, then this page, from the repository root:

    .venv/bin/python examples/demo.py                  # the service at http://127.0.0.1:8000
    .venv/bin/python examples/gradio_demo.py           # the page at http://127.0.0.1:7860 (or the next free port)
    .venv/bin/python examples/gradio_demo.py --url http://127.0.0.1:8000 --port 0   # any free port (printed)

It is what ``datason gradio --url ...`` runs, with the demo's example flower filled in. The page reads the
service's ``/openapi.json`` to build its form (one number per feature), sends ``POST /predict`` asking for
datason's typed answer, and shows the prediction, a bar plot of the class probabilities, their table (the
dtype in the header) and the response as JSON. Errors (a 422 naming the field, an unreachable service, a bad
file) are messages on the page. From another terminal, ``gradio_client`` calls the same endpoints:

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    summary, plot, table, response, typed = client.predict(5.1, 3.5, 1.4, 0.2, api_name="/predict_form")
    client.predict('{"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}',
                   api_name="/predict_json")

docs/integrations/gradio.md explains the rest. Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import sys

from demo import EXAMPLE  # examples/demo.py: the flower its curl commands send

from datason.integrations.gradio_demo import DEFAULT_URL, launch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the datason service (default {DEFAULT_URL})")
    parser.add_argument("--port", type=int, default=None, help="port of the page (0: any free one)")
    args = parser.parse_args(argv)
    launch(args.url, port=args.port, example=EXAMPLE)  # 127.0.0.1, no share link, no analytics
    return 0


if __name__ == "__main__":
    sys.exit(main())
