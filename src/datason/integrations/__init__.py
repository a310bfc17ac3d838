"""datason.integrations: the serving toolkit inside the model servers people already run.

One module per framework, each a thin layer over ``datason.serving`` (the request pipeline: validation,
limits, rate limits, metrics, request ids, error envelope, health) and ``datason.protocols``; none of them
copies toolkit code. The framework itself is imported inside each module, so ``import datason`` never needs
it: install it beside datason (``pip install "datason[serving]" bentoml``).

- ``datason.integrations.bentoml``: a predict function or class as a BentoML 1.4 service.
- ``datason.integrations.ray_serve``: a predict function or class as a Ray Serve 2.x deployment.
"""
