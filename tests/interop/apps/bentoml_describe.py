"""A predict function served through datason as a BentoML service of two workers, its routes mounted under
``/ds``: `bentoml serve tests.interop.apps.bentoml_describe:svc`. Answers with what predict received (type,
dtype, shape, columns, index), so the tests see what each protocol's decoder gave it."""

from __future__ import annotations

from datason.integrations.bentoml import datason_service
from datason.serving import ServingConfig
from tests.interop.apps.describe import describe

svc = datason_service(describe, config=ServingConfig(model_id="describe"), path="/ds", service_options={"workers": 2})
