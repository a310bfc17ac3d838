"""Handlers for Pillow images (imported lazily: ``import datason`` never imports PIL).

What each type becomes (typed payload | plain form); docs/wire-format.md section 11 has the exact layout:

- ``PIL.Image.Image`` and its subclasses (``PngImageFile``, ``JpegImageFile``, ...): tag ``PIL.Image``,
  ``{"mode": MODE, "size": [width, height], "format": "png" | "raw", "data": BASE64, "palette"?: {"mode":
  "RGB" | "RGBA", "data": BASE64}}`` | a ``data:image/png;base64,...`` URL (modes PNG cannot hold are
  converted first: ``I`` and ``I;16B``/``L`` to ``I;16`` (clipped), ``F`` to ``L`` (clipped), ``La`` to ``LA``,
  ``PA``, ``RGBa`` and ``P`` with an RGBA palette to ``RGBA``, the others to ``RGB``)

``png`` is used for the modes PNG stores bit for bit (``1``, ``L``, ``LA``, ``RGB``, ``RGBA``, ``I;16`` and
``P`` with an RGB palette); every other mode (``I``, ``F``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``,
``RGBa``, ``La``, ``PA``, ``P`` with an RGBA palette, ``I;16B``/``L``) and empty images use ``raw``: the
pixel bytes as ``Image.tobytes()`` writes them, plus the palette for ``P``/``PA``. Mode, size, pixels and
palette come back exactly; ``info`` (text chunks, DPI, ``transparency``...) and the file format an image
was opened from are not kept.

Readers check the declared size (``width * height * bands`` against ``max_size``, its bytes against
``max_bytes``) before decoding, check a PNG's own header against the declared size, open only PNG (Pillow
is asked for no other format; its ``MAX_IMAGE_PIXELS`` check stays on) from memory, never a file or URL,
and check a raw body's length exactly.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from PIL import Image

from ..errors import DeserializationError, SecurityError, SerializationError
from ..registry import DecodeContext, EncodeContext
from .kit import JSON_PAYLOAD, add_handler, b64decode, b64encode

__all__: list[str] = []

_TAG = "PIL.Image"
# mode -> (bits per pixel as tobytes() packs them, bands)
_MODES: dict[str, tuple[int, int]] = {
    "1": (1, 1),
    "L": (8, 1),
    "P": (8, 1),
    "LA": (16, 2),
    "La": (16, 2),
    "PA": (16, 2),
    "I;16": (16, 1),
    "I;16B": (16, 1),
    "I;16L": (16, 1),
    "RGB": (24, 3),
    "YCbCr": (24, 3),
    "LAB": (24, 3),
    "HSV": (24, 3),
    "RGBA": (32, 4),
    "RGBa": (32, 4),
    "RGBX": (32, 4),
    "CMYK": (32, 4),
    "I": (32, 1),
    "F": (32, 1),
}
_PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA", "I;16", "P"})
_PALETTE_MODES = ("RGB", "RGBA")
# plain mode: what a mode PNG cannot hold becomes (default RGB)
_PLAIN_CONVERT = {"I": "I;16", "I;16B": "I;16", "I;16L": "I;16", "F": "L", "La": "LA", "PA": "RGBA", "RGBa": "RGBA"}
_PLAIN_CONVERT["P"] = "RGBA"  # a P image with an RGBA palette
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _raw_length(mode: str, width: int, height: int) -> int:
    bits = _MODES[mode][0]
    return height * ((width * bits + 7) // 8)


def _palette_mode(im: Image.Image) -> str | None:
    return None if im.palette is None else str(im.palette.mode)


# --- typed mode ----------------------------------------------------------------------------------------


def _enc_image(im: Image.Image, ctx: EncodeContext) -> dict[str, Any]:
    mode = im.mode
    if mode not in _MODES:
        raise SerializationError(f"image mode {mode!r} is not supported", type_name=_TAG)
    width, height = im.size
    payload: dict[str, Any] = {"mode": mode, "size": [width, height]}
    png = mode in _PNG_MODES and width > 0 and height > 0 and (mode != "P" or _palette_mode(im) == "RGB")
    if png:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        payload["format"] = "png"
        payload["data"] = b64encode(buf.getbuffer())
        return payload
    payload["format"] = "raw"
    payload["data"] = b64encode(im.tobytes())
    if mode in ("P", "PA"):
        pmode = _palette_mode(im) or "RGB"
        palette = im.getpalette(rawmode=pmode) or []
        payload["palette"] = {"mode": pmode, "data": b64encode(bytes(palette))}
    return payload


def _dec_image(payload: Any, ctx: DecodeContext) -> Image.Image:
    cfg = ctx.config
    if type(payload) is not dict or not {"mode", "size", "format", "data"} <= set(payload):
        raise DeserializationError("image payload must be an object with mode, size, format and data")
    fmt = payload["format"]
    if fmt not in ("png", "raw"):
        raise DeserializationError("image format must be 'png' or 'raw'")
    allowed = {"mode", "size", "format", "data"} | ({"palette"} if fmt == "raw" else set())
    if set(payload) - allowed:
        raise DeserializationError("image payload has unknown members")
    mode = payload["mode"]
    if type(mode) is not str or mode not in _MODES or (fmt == "png" and mode not in _PNG_MODES):
        raise DeserializationError("unsupported image mode")
    size = payload["size"]
    if type(size) is not list or len(size) != 2 or any(type(n) is not int or n < 0 for n in size):
        raise DeserializationError("image size must be [width, height] of non-negative ints")
    width, height = size
    if width * height * _MODES[mode][1] > cfg.max_size:
        raise SecurityError(f"image larger than max_size={cfg.max_size}")
    expected = _raw_length(mode, width, height)
    if expected > cfg.max_bytes:
        raise SecurityError(f"image larger than max_bytes={cfg.max_bytes}")
    data = payload["data"]
    if type(data) is not str:
        raise DeserializationError("image data must be a base64 string")
    if fmt == "raw" and len(data) != 4 * ((expected + 2) // 3):
        raise DeserializationError("raw image data does not match its mode and size")
    if len(data) // 4 * 3 > cfg.max_bytes:
        raise SecurityError(f"image data larger than max_bytes={cfg.max_bytes}")
    raw = b64decode(data)
    if fmt == "raw":
        return _from_raw(mode, width, height, raw, payload.get("palette"))
    return _from_png(mode, width, height, raw)


def _from_raw(mode: str, width: int, height: int, raw: bytes, palette: Any) -> Image.Image:
    if len(raw) != _raw_length(mode, width, height):
        raise DeserializationError("raw image data does not match its mode and size")
    im = Image.frombytes(mode, (width, height), raw) if raw else Image.new(mode, (width, height))
    if palette is not None:
        if mode not in ("P", "PA"):
            raise DeserializationError("only P and PA images have a palette")
        if type(palette) is not dict or set(palette) != {"mode", "data"} or palette["mode"] not in _PALETTE_MODES:
            raise DeserializationError("image palette must be {mode: 'RGB' | 'RGBA', data}")
        entries = b64decode(palette["data"])
        if len(entries) % len(palette["mode"]) or len(entries) > 256 * len(palette["mode"]):
            raise DeserializationError("image palette length does not match its mode")
        im.putpalette(entries, rawmode=palette["mode"])
    return im


def _from_png(mode: str, width: int, height: int, raw: bytes) -> Image.Image:
    if raw[:8] != _PNG_SIGNATURE or raw[12:16] != b"IHDR" or len(raw) < 24:
        raise DeserializationError("image data is not a PNG")
    if struct.unpack(">II", raw[16:24]) != (width, height):
        raise DeserializationError("PNG size does not match the declared size")
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as png:
            png.load()
            im = png.copy()
    except Image.DecompressionBombError:
        raise SecurityError("image larger than PIL.Image.MAX_IMAGE_PIXELS") from None
    except Exception as exc:  # Pillow's messages may quote the bytes: report only the kind
        raise DeserializationError(f"invalid PNG data ({type(exc).__name__})") from None
    if im.mode != mode or im.size != (width, height):
        raise DeserializationError("PNG mode or size does not match the declared ones")
    return im


# --- plain mode ----------------------------------------------------------------------------------------


def data_url(im: Image.Image) -> str:
    """``im`` as a ``data:image/png;base64,...`` URL (modes PNG cannot hold converted first)."""
    if im.mode not in _PNG_MODES or (im.mode == "P" and _palette_mode(im) != "RGB"):
        im = im.convert(_PLAIN_CONVERT.get(im.mode, "RGB"))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + b64encode(buf.getbuffer())


def _plain_image(im: Image.Image, ctx: EncodeContext) -> str:
    width, height = im.size
    if width * height * len(im.getbands()) > ctx.config.max_size:
        raise SecurityError(f"image larger than max_size={ctx.config.max_size}")
    return data_url(im)


# --- registration ----------------------------------------------------------------------------------------


add_handler(Image.Image, _TAG, _enc_image, _dec_image, _plain_image, subclasses=True, **JSON_PAYLOAD)
