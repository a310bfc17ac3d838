"""datason.integrations: the serving toolkit inside the model servers people already run.

One module per framework, each a thin layer over ``datason.serving`` (the request pipeline: validation,
limits, rate limits, metrics, request ids, error envelope, health) and ``datason.protocols``; none of them
copies toolkit code. The framework itself is imported inside each module (MLServer's runtime: when its module
is), so ``import datason`` never needs it: install it beside datason (``pip install "datason[serving]" bentoml``).

- ``datason.integrations.bentoml``: a predict function or class as a BentoML 1.4 service.
- ``datason.integrations.ray_serve``: a predict function or class as a Ray Serve 2.x deployment.
- ``datason.integrations.mlflow``: typed run artifacts and a datason pyfunc flavor for MLflow 3.
- ``datason.integrations.kserve``: a ``kserve.Model`` whose v1 and v2 routes are datason's.
- ``datason.integrations.seldon``: a Seldon Core v1 component.
- ``datason.integrations.mlserver``: an MLServer runtime and codec (Seldon Core 2).
- ``datason.integrations.litserve``: a LitServe ``LitAPI`` base.
- ``datason.integrations.streamlit``: ML values in ``st.json`` / ``st.dataframe`` as they are; typed uploads.
- ``datason.integrations.dashboard``: the Streamlit monitoring page of a running service (``datason dashboard``).
- ``datason.integrations.gradio``: ML values in ``gr.JSON`` / ``gr.DataFrame`` as they are; typed uploads.
- ``datason.integrations.gradio_demo``: a Gradio demo page of a running service (``datason gradio``).
- ``datason.integrations.service_client``: the small HTTP client of a running service both pages use.
"""
