"""The image's default model: a stand-in to replace with yours (``COPY`` your package to ``/app``).

``datason serve model:predict`` serves it. It scores iris-like measurements with fixed weights, so the image
starts without training or downloading anything; ``SCHEMA`` is what ``--schema model:SCHEMA`` validates.
"""

from __future__ import annotations

from typing import Any

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "number", "exclusiveMinimum": 0, "maximum": 30} for name in FEATURES},
    "required": list(FEATURES),
    "additionalProperties": False,
}
_WEIGHTS = {"setosa": (0.4, 1.0, -1.6, -0.8), "versicolor": (0.1, -0.3, 0.2, -0.1), "virginica": (-0.5, -0.7, 1.4, 0.9)}


def predict(features: dict[str, float]) -> dict[str, Any]:
    """The class with the highest linear score, and every class's score."""
    scores = {name: sum(w * features[f] for w, f in zip(ws, FEATURES, strict=True)) for name, ws in _WEIGHTS.items()}
    return {"label": max(scores, key=scores.__getitem__), "scores": scores}
