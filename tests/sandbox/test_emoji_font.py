"""Emoji show in colour on Linux (issue 16, point 7): the page's fonts put a colour emoji font ahead of the text
font that would otherwise draw 😂 in black (DejaVu Sans, which Linux's system-ui is), without taking digits and
spaces from it. Debian's chromium, with Debian's fonts-noto-color-emoji as CI installs it."""

from __future__ import annotations

import io
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from adapters.sandbox.workspace import BOT_ID
from bot.cards import Card, Text
from tests.support.server import Running, running_app

COLOURED = 40
"""Pixels an emoji drawn in colour has at the least, at the page's sizes; a black-and-white glyph has none."""


def coloured_pixels(png: bytes) -> int:
    """Pixels whose channels differ clearly: colour, not black, white or grey anti-aliasing."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for pixel in image.get_flattened_data() if max(pixel) - min(pixel) > 60)


@pytest.fixture
def emoji_font() -> None:
    fonts = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=False).stdout
    if "Noto Color Emoji" not in fonts:
        pytest.fail("the Noto Color Emoji font is missing (apt-get install fonts-noto-color-emoji, as .ci/run does)")


@pytest.fixture
async def server(tmp_path: Path, emoji_font: None) -> AsyncIterator[Running]:
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'emoji.db'}") as running:
        yield running


async def test_emoji_in_cards_reactions_and_the_palette_are_in_colour_and_digits_keep_the_text_font(
        browser, server: Running, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    workspace = server.runtime.workspace
    assert workspace is not None
    posted = await workspace.post("C-cx", BOT_ID, Card("😂", (Text("😂"),)))
    await workspace.react(int(posted["id"]), "ben", "😂", True)

    page = await browser.new_page()
    await page.goto(f"{server.link}&as=ana&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    row = page.locator(f"[data-message-id='{posted['id']}']")
    text = row.locator(".block-text", has_text="😂")
    await text.wait_for(timeout=10_000)
    await page.evaluate("document.fonts.ready")
    shown = {"card text": await text.screenshot(),
             "reaction": await row.locator("[data-testid=reaction][data-emoji='😂']").screenshot()}
    await row.locator(".add-reaction").click()  # the palette covers the card's text: looked at after it
    palette = row.locator(".palette-emoji[data-emoji='😂']")
    await palette.wait_for()
    shown["palette"] = await palette.screenshot()
    await row.screenshot(path=tmp_path / "emoji.png")

    for name, png in shown.items():
        assert coloured_pixels(png) >= COLOURED, f"😂 in the {name} is not in colour"

    # Digits, # and spaces exist in the emoji font too: they must still come from the text font.
    widths = await page.evaluate("""() => {
      const probe = (style) => {
        const span = document.createElement('span');
        span.textContent = '0123456789 #* 2025';
        span.style.cssText = style;
        document.getElementById('messages').append(span);
        const width = span.getBoundingClientRect().width;
        span.remove();
        return width;
      };
      return [probe(''), probe('font-family: system-ui, sans-serif')];
    }""")
    assert widths[0] == pytest.approx(widths[1], abs=0.5), widths
    await page.close()
