"""datason.serving: one tested wrapper that serves a predict function (validation, limits, metrics, logs).

``ModelService`` is framework-agnostic (bytes in, ``ServingResponse`` out); ``create_app`` makes it a plain
ASGI app; ``datason serve MODULE:ATTR`` runs that app with uvicorn. See docs/serving.md.
"""

from __future__ import annotations

from .adapters import TYPED_MEDIA_TYPE
from .asgi import ServingApp, create_app
from .config import ServingConfig
from .errors import ServingError
from .service import ModelService, ServingResponse

__all__ = [
    "TYPED_MEDIA_TYPE",
    "ModelService",
    "ServingApp",
    "ServingConfig",
    "ServingError",
    "ServingResponse",
    "create_app",
]
