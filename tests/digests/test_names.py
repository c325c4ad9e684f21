"""Teams and people by the names the platform gives them (issue 16, point 12), escaped in every format, with the
id where the platform has no name or can't answer; and the answer charts' caption saying what they draw (point
15)."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from adapters.sandbox.adapter import SandboxAdapter
from adapters.sandbox.demo import seed_workspace
from adapters.sandbox.workspace import Workspace
from adapters.slack.adapter import SlackAdapter
from adapters.slack.platform import web_client
from adapters.teams.references import References
from adapters.teams.translate import conversation_reference
from bot.adapter import DeliveryError, NameLookup
from bot.digests import plots
from bot.digests.build import Privacy, build_digest
from bot.digests.card import digest_card
from bot.digests.csv_export import digest_csv
from bot.digests.html_page import digest_html
from bot.digests.markdown import digest_markdown
from bot.digests.model import Digest
from bot.events import CommandEvent, Person
from bot.feedback.redact import Redactor
from storage.engine import Database
from tests.digests.conftest import WEEK, team
from tests.slack.fake_api import fake_slack
from tests.support.core import CoreHarness
from tests.support.recording import RecordingAdapter, RecordingResponder

PAY = "=Pay & <b>*bill*</b> [x](http://e.example) # $\\frac{1}$"
"""A name that is a formula, HTML, Markdown emphasis, a link, a heading mark and a matplotlib formula at once."""
APP = "Мобильное приложение"


def lookups(**names: str) -> dict[str, object]:
    return {"test": RecordingAdapter(names=names)}


async def named(db: Database, minimum: int = 3) -> Digest:
    return await build_digest(db, WEEK, Privacy(minimum, minimum + 1), Redactor(),
                              lookups=lookups(**{"C-pay": PAY, "C-app": APP}))


async def test_teams_go_by_their_channel_names_and_unknown_ones_by_id(seeded: Database) -> None:
    digest = await named(seeded)
    assert [t.name for t in digest.teams] == [APP, PAY, "C-tiny"]
    assert [t.key for t in digest.teams] == ["test:C-app", "test:C-pay", "test:C-tiny"]  # keys stay the ids
    text = next(b.text for b in digest_card(digest, []).blocks if getattr(b, "text", "").startswith("Teams"))
    lines = text.splitlines()[1:]
    assert len(lines) == 3 and all(line.startswith(f"#{name}: ") for line, name in zip(lines, [APP, PAY, "C-tiny"],
                                                                                      strict=True))


async def test_names_are_escaped_in_markdown_html_and_csv(seeded: Database) -> None:
    digest = await named(seeded)
    markdown = digest_markdown(digest)
    assert ("### =Pay \\& \\<b\\>\\*bill\\*\\</b\\> \\[x\\](http://e.example) \\# $\\\\frac{1}$"
            in markdown.splitlines())
    assert f"### {APP}" in markdown.splitlines() and "### C-tiny" in markdown.splitlines()
    html = digest_html(digest, [])
    assert ("<h3>=Pay &amp; &lt;b&gt;*bill*&lt;/b&gt; [x](http://e.example) # $\\frac{1}$</h3>" in html
            and "<b>" not in html)
    rows = list(csv.DictReader(io.StringIO(digest_csv(digest).decode("utf-8-sig"))))
    assert {r["name"] for r in rows if r["scope"] == "test:C-pay"} == {"'" + PAY}  # a text, not a formula
    assert {r["name"] for r in rows if r["scope"] == "test:C-app"} == {APP}
    assert {r["name"] for r in rows if r["scope"] == "overall"} == {"Overall"}


async def test_flags_name_the_team(seeded: Database) -> None:
    digest = await named(seeded, minimum=1)
    assert digest.flags and all(flag.startswith("checkout: ") and f"{PAY}'s" in flag for flag in digest.flags)
    assert "- checkout: detractors rose while =Pay \\& \\<b\\>" in digest_markdown(digest)


async def test_the_teams_chart_draws_names_literally(seeded: Database, tmp_path: Path) -> None:
    """A `$…$` in a name is text, not a formula (matplotlib fails to draw `\\frac{1}`); a name in any script is
    drawn as it is (the shipped fonts draw it); two teams of one name keep a bar each."""
    formula = "$\\frac{1}$ pay"
    digest = await build_digest(seeded, WEEK, Privacy(1, 1), Redactor(),
                                lookups=lookups(**{"C-pay": formula, "C-app": formula}))
    figure = plots.draw_figure([plots._teams], digest, columns=1)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["$\\frac{1}$ pay"] * 2 and len(figure.axes[0].patches) == 4
    FigureCanvasAgg(figure).draw()
    assert all(label.get_window_extent().x0 >= 0 for label in figure.axes[0].get_yticklabels())  # not cut off
    assert plots.chart_label("แอป", "C-app") == "แอป" and plots.chart_label(APP, "C-app") == "Мобильное приложе…"
    png = plots.teams_chart(digest)
    assert png is not None and png.startswith(b"\x89PNG")
    (tmp_path / "teams.png").write_bytes(png)


async def test_a_name_the_platform_cannot_give_now_falls_back_to_the_id(seeded: Database) -> None:
    class Down(RecordingAdapter):
        async def channel_name(self, channel_id: str) -> str | None:
            raise DeliveryError("ratelimited", retryable=True)

    digest = await build_digest(seeded, WEEK, Privacy(3, 4), Redactor(), lookups={"test": Down()})
    assert [t.name for t in digest.teams] == ["C-app", "C-pay", "C-tiny"]
    assert team(digest, "C-pay").key == "test:C-pay"


async def test_set_up_by_shows_the_persons_name(harness: CoreHarness) -> None:
    await harness.grant("U-priya", "hr")
    harness.adapter.names["U-priya"] = "Priya <Patel>"
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "U-priya"),
                         channel_id="C-hr", command="digest", text="subscribe")
    await harness.core.handle(event, RecordingResponder())
    await harness.deliver()
    assert "Set up by Priya <Patel> · " in str(harness.adapter.sent[-1].card.blocks)
    harness.adapter.names.clear()  # no name anywhere: the id
    await harness.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex,
                                           actor=Person("test", "U-priya"), channel_id="C-hr2", command="digest",
                                           text="subscribe"), RecordingResponder())
    await harness.deliver()
    assert "Set up by U-priya · " in str(harness.adapter.sent[-1].card.blocks)


async def test_the_sandbox_names_its_channels_and_people(db: Database) -> None:
    workspace = Workspace(db)
    await seed_workspace(db, workspace)
    adapter = SandboxAdapter(workspace)
    assert isinstance(adapter, NameLookup)
    assert await adapter.channel_name("C-cx") == "cx-feedback"
    assert await adapter.person_name("priya") not in (None, "priya")
    assert await adapter.channel_name(await workspace.open_dm("priya")) is None
    assert await adapter.channel_name("C-nope") is None and await adapter.person_name("nobody") is None


async def test_slack_names_come_from_conversations_and_users_info(db: Database) -> None:
    async with fake_slack() as fake:
        fake.channels["C0CX"] = {"id": "C0CX", "name": "cx-feedback", "is_channel": True}
        fake.users["U0PRIYA"] = {"id": "U0PRIYA", "name": "priya", "profile": {"display_name": "Priya P"}}
        adapter = SlackAdapter(web_client("xoxb-test", fake.api_url), db)
        assert isinstance(adapter, NameLookup)
        assert await adapter.channel_name("C0CX") == "cx-feedback"
        assert await adapter.channel_name("C0CX") == "cx-feedback"
        assert len(fake.of("conversations.info")) == 1  # cached
        assert await adapter.person_name("U0PRIYA") == "Priya P"
        with pytest.raises(DeliveryError):
            await adapter.channel_name("C0GONE")
        digest = await build_digest(db, WEEK, Privacy(3, 4), Redactor(), lookups={"slack": adapter})
        assert digest.teams == []  # an empty database names nothing, and asks nothing more
        assert len(fake.of("conversations.info")) == 2


async def test_teams_names_come_from_what_teams_sent(db: Database) -> None:
    references = References(db)
    activity = {"type": "message", "serviceUrl": "https://smba.example/", "channelId": "msteams",
                "conversation": {"id": "19:abc@thread.tacv2;messageid=1", "conversationType": "channel"},
                "channelData": {"channel": {"id": "19:abc@thread.tacv2", "name": "Customer voice"}},
                "from": {"id": "29:ana", "name": "Ana"}, "recipient": {"id": "28:bot"}}
    stored = conversation_reference(activity)
    assert stored is not None
    await references.remember(stored)
    await references.remember_name("29:ana", "Ana Lima")
    assert isinstance(references, NameLookup)
    assert await references.channel_name("19:abc@thread.tacv2") == "Customer voice"
    assert await references.person_name("29:ana") == "Ana Lima"
    assert await references.channel_name("19:other") is None and await references.person_name("29:x") is None


async def test_the_answer_charts_caption_says_what_they_draw(digest: Digest, tmp_path: Path) -> None:
    """Bars of one answer are drawn (a distribution shows once enough answered in all, like a question's totals),
    so the caption must not say that groups under the minimum are hidden."""
    assert digest.nps_distribution and min(digest.nps_distribution.values()) == 1 < digest.minimum
    figure = plots.draw_figure(list(plots.DISTRIBUTIONS), digest)
    captions = [t.get_text() for t in figure.texts]
    assert captions == [plots.distribution_caption(digest)]
    assert "however few" in captions[0] and plots.hidden_caption(digest) not in captions
    assert [p.get_height() for p in figure.axes[0].patches] == [digest.nps_distribution.get(s, 0) for s in range(11)]
    assert all(float(t).is_integer() for t in figure.axes[0].get_yticks())
    overview = plots.draw_figure([plots._volume, plots._scores, *plots.DISTRIBUTIONS], digest)
    assert [t.get_text() for t in overview.texts][-2:] == [plots.distribution_caption(digest),
                                                           plots.hidden_caption(digest)]
    FigureCanvasAgg(overview).draw()
    boxes = [t.get_window_extent() for t in overview.texts[-2:]] + [ax.get_tightbbox() for ax in overview.axes]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:2])  # the lines apart
    assert not any(boxes[i].overlaps(ax) for i in range(2) for ax in boxes[2:])  # and below every panel
    png = plots.distribution_chart(digest)
    assert png is not None
    (tmp_path / "distribution.png").write_bytes(png)
    (tmp_path / "overview.png").write_bytes(plots.overview_chart(digest))
