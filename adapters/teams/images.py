"""Chart PNGs inlined as `data:` URIs, shrunk to fit what is left of a message's size budget."""

from __future__ import annotations

import base64
import io

DATA_PREFIX = "data:image/png;base64,"
MIN_WIDTH = 240


def data_uri(png: bytes) -> str:
    return DATA_PREFIX + base64.b64encode(png).decode("ascii")


def uri_size(png: bytes) -> int:
    return len(DATA_PREFIX) + 4 * ((len(png) + 2) // 3)


def fit_png(png: bytes, max_uri_bytes: int) -> str | None:
    """The PNG as a data URI within `max_uri_bytes`: as is, else reduced to a 64-colour palette and scaled
    down step by step. None when even the smallest legible version does not fit."""
    if uri_size(png) <= max_uri_bytes:
        return data_uri(png)
    try:
        from PIL import Image  # Pillow comes with matplotlib, which draws the charts
    except ImportError:
        return None
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except OSError:
        return None
    image = image.convert("RGB")
    while True:
        buffer = io.BytesIO()
        image.quantize(colors=64).save(buffer, format="PNG", optimize=True)
        if uri_size(buffer.getvalue()) <= max_uri_bytes:
            return data_uri(buffer.getvalue())
        width, height = image.size
        if width * 3 // 4 < MIN_WIDTH:
            return None
        image = image.resize((width * 3 // 4, max(1, height * 3 // 4)))
