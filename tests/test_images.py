"""Pillow images: exact typed round trips for every mode, data URLs in plain mode, hostile payloads."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from typing import Any

import pytest

Image = pytest.importorskip("PIL.Image")

import datason  # noqa: E402
from datason import DeserializationError, SecurityError  # noqa: E402
from datason.config import SerializationConfig, get_api_config  # noqa: E402

from .conftest import strict_json  # noqa: E402

PNG_MODES = ["1", "L", "LA", "RGB", "RGBA", "P", "I;16"]
RAW_MODES = ["I", "F", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa", "La", "PA", "I;16B", "I;16L"]


def _image(mode: str, size: tuple[int, int] = (7, 5)) -> Any:
    n = len(Image.new(mode, size).tobytes())
    im = Image.frombytes(mode, size, bytes((i * 37 + 11) % 256 for i in range(n)))
    if mode in ("P", "PA"):
        im.putpalette(bytes(range(256)) * 3)
    return im


def _same(got: Any, want: Any) -> None:
    assert isinstance(got, Image.Image)
    assert (got.mode, got.size) == (want.mode, want.size)
    assert got.tobytes() == want.tobytes()
    if want.mode in ("P", "PA"):
        assert got.palette.mode == want.palette.mode
        assert got.getpalette(rawmode=want.palette.mode) == want.getpalette(rawmode=want.palette.mode)


def _payload(im: Any) -> dict[str, Any]:
    doc = json.loads(datason.dumps(im))
    assert doc["__datason_type__"] == "PIL.Image"
    return doc["__datason_value__"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", PNG_MODES + RAW_MODES)
def test_round_trip_every_mode(mode: str, walker: str) -> None:
    im = _image(mode)
    _same(datason.loads(datason.dumps(im)), im)
    _same(datason.deserialize(datason.serialize(im)), im)
    assert _payload(im)["format"] == ("png" if mode in PNG_MODES else "raw")


def test_palette_with_alpha_and_empty_and_opened_images(walker: str) -> None:
    p = _image("P")
    p.putpalette(bytes(range(200)) * 4, rawmode="RGBA")
    assert _payload(p)["format"] == "raw" and _payload(p)["palette"]["mode"] == "RGBA"
    _same(datason.loads(datason.dumps(p)), p)
    for empty in (Image.new("RGB", (0, 0)), Image.new("L", (3, 0))):
        _same(datason.loads(datason.dumps(empty)), empty)
    buf = io.BytesIO()
    _image("RGB").save(buf, format="PNG")
    opened = Image.open(io.BytesIO(buf.getvalue()))  # a PngImageFile subclass, lazily loaded
    got = datason.loads(datason.dumps({"img": [opened]}))["img"][0]
    _same(got, _image("RGB"))


def test_payload_layout() -> None:
    payload = _payload(_image("L", (2, 1)))
    assert set(payload) == {"mode", "size", "format", "data"}
    assert payload["mode"] == "L" and payload["size"] == [2, 1]
    assert base64.b64decode(payload["data"]).startswith(b"\x89PNG")
    raw = _payload(_image("F", (2, 1)))
    assert raw["format"] == "raw" and len(base64.b64decode(raw["data"])) == 8


@pytest.mark.parametrize("mode", PNG_MODES + RAW_MODES)
def test_plain_mode_is_a_png_data_url(mode: str, walker: str) -> None:
    im = _image(mode)
    url = strict_json(datason.dumps({"img": im}, get_api_config()))["img"]
    assert url.startswith("data:image/png;base64,")
    back = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])), formats=["PNG"])
    assert back.size == im.size
    if mode in PNG_MODES and mode != "P":
        assert back.tobytes() == im.tobytes()
    again = datason.serialize(im, get_api_config())
    # Pillow's LAB -> RGB conversion is not deterministic, so only PNG-native modes compare exactly
    assert again == url if mode in PNG_MODES else again.startswith("data:image/png;base64,")


def _doc(payload: Any) -> str:
    return json.dumps({"__datason_type__": "PIL.Image", "__datason_value__": payload})


def _png_b64(size: tuple[int, int] = (4, 4), mode: str = "L") -> str:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _gif_b64() -> str:
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, format="GIF")
    return base64.b64encode(buf.getvalue()).decode()


RAW16 = base64.b64encode(bytes(16)).decode()
BAD: dict[str, tuple[Any, type[Exception]]] = {
    "not-an-object": ([1], DeserializationError),
    "missing-member": ({"mode": "L", "size": [4, 4], "format": "png"}, DeserializationError),
    "unknown-member": ({"mode": "L", "size": [4, 4], "format": "raw", "data": RAW16, "x": 1}, DeserializationError),
    "jpeg-format": ({"mode": "L", "size": [4, 4], "format": "jpeg", "data": _png_b64()}, DeserializationError),
    "gif-bytes-as-png": ({"mode": "L", "size": [4, 4], "format": "png", "data": _gif_b64()}, DeserializationError),
    "unknown-mode": ({"mode": "secret", "size": [4, 4], "format": "raw", "data": RAW16}, DeserializationError),
    "raw-mode-as-png": ({"mode": "F", "size": [2, 2], "format": "png", "data": RAW16}, DeserializationError),
    "bad-size": ({"mode": "L", "size": [4, -4], "format": "raw", "data": RAW16}, DeserializationError),
    "size-not-list": ({"mode": "L", "size": "4x4", "format": "raw", "data": RAW16}, DeserializationError),
    "malformed-base64": ({"mode": "L", "size": [4, 4], "format": "png", "data": "!!secret!!"}, DeserializationError),
    "raw-too-short": ({"mode": "L", "size": [4, 5], "format": "raw", "data": RAW16}, DeserializationError),
    "png-size-mismatch": (
        {"mode": "L", "size": [4, 4], "format": "png", "data": _png_b64((5, 4))},
        DeserializationError,
    ),
    "png-mode-mismatch": ({"mode": "RGB", "size": [4, 4], "format": "png", "data": _png_b64()}, DeserializationError),
    "truncated-png": ({"mode": "L", "size": [4, 4], "format": "png", "data": _png_b64()[:40]}, DeserializationError),
    "bad-palette": (
        {"mode": "P", "size": [4, 4], "format": "raw", "data": RAW16, "palette": {"mode": "RGB", "data": "AAAAAA=="}},
        DeserializationError,
    ),
    "palette-on-L": (
        {"mode": "L", "size": [4, 4], "format": "raw", "data": RAW16, "palette": {"mode": "RGB", "data": "AAAA"}},
        DeserializationError,
    ),
    "huge-declared-size": ({"mode": "RGBA", "size": [10**6, 10**6], "format": "png", "data": ""}, SecurityError),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_payloads(name: str, walker: str) -> None:
    payload, error = BAD[name]
    with pytest.raises(error) as info:
        datason.loads(_doc(payload))
    assert "secret" not in str(info.value)


def test_limits_checked_before_decoding() -> None:
    doc = datason.dumps(_image("RGB", (20, 20)))
    with pytest.raises(SecurityError):
        datason.loads(doc, SerializationConfig(max_size=1199))
    assert datason.loads(doc, SerializationConfig(max_size=1200)).size == (20, 20)
    small = SerializationConfig(max_bytes=len(doc) + 100)  # the document fits, the pixels do not
    big = datason.dumps(Image.new("L", (100, 100)))  # compresses to a tiny PNG
    with pytest.raises(SecurityError):
        datason.loads(big, small.replace(max_bytes=len(big) + 10))


def test_pillow_bomb_guard_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(SecurityError):
        datason.loads(datason.dumps(_image("L", (10, 10))))


def test_import_datason_does_not_import_pil() -> None:
    code = (
        "import sys, datason\n"
        "datason.loads(datason.dumps({'a': b'x'}))\n"
        "assert 'PIL' not in sys.modules and 'datason.handlers.images' not in sys.modules\n"
        "from PIL import Image\n"
        "datason.dumps(Image.new('L', (1, 1)))\n"
        "assert 'datason.handlers.images' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
