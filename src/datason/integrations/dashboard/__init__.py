"""The monitoring dashboard of a datason service (``datason dashboard``): a Streamlit page.

- its HTTP client is ``datason.integrations.service_client.ServiceClient`` (shared with the Gradio demo): it
  reads a running service's ``/health``, ``/metrics`` (Prometheus text: counts, error rate, average and p95
  latency from the histogram), ``/openapi.json`` (the features schema, turned into form fields) and sends
  predictions with request ids.
- ``datason.integrations.dashboard.page``: the Streamlit page (``PAGE`` is its file, what
  ``streamlit run`` runs).

``pip install "datason[dashboard]"``; docs/integrations/streamlit.md shows the page.
"""

from __future__ import annotations

import pathlib

__all__ = ["PAGE"]

PAGE = pathlib.Path(__file__).with_name("page.py")
