"""SlackAdapter with the real AsyncWebClient against the fake Web API: calls, paging, caching, error mapping."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.blocks import decode_action_id
from adapters.slack.history import mark
from adapters.slack.platform import web_client
from bot.adapter import DeliveryError
from bot.cards import Button, Buttons, Card, Heading, Image, Text, text_card
from bot.charts import save_chart
from bot.events import MessageRef, Person, Target
from storage.columns import utcnow
from storage.engine import Database
from tests.slack.fake_api import BOT_USER, FakeSlack
from tests.support.postgres import free_port

CARD = Card("New feedback", (Heading("New feedback"), Text("<!channel> fix it & now"),
                             Buttons((Button("claim:9", "I'll follow up", "9"),))))


@pytest.fixture
def adapter(fake: FakeSlack, db: Database) -> SlackAdapter:
    return SlackAdapter(web_client("xoxb-test", fake.api_url), db)


def blocks_of(call_args: dict) -> list[dict]:
    blocks = call_args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


async def test_send_posts_block_kit_to_the_channel(adapter: SlackAdapter, fake: FakeSlack) -> None:
    ref = await adapter.send(Target.channel("slack", "C1"), CARD)
    (call,) = fake.of("chat.postMessage")
    assert call.token == "xoxb-test"
    assert call.args["channel"] == "C1" and call.args["text"] == "New feedback"
    assert call.args["unfurl_links"] is False and "thread_ts" not in call.args
    _header, section, actions = blocks_of(call.args)
    assert section["text"]["text"] == "&lt;!channel&gt; fix it &amp; now"
    assert decode_action_id(actions["elements"][0]["action_id"]) == ("claim:9", False)
    assert ref == MessageRef("slack", "C1", call.answer["ts"])


async def test_thread_targets_reply_in_the_thread(adapter: SlackAdapter, fake: FakeSlack) -> None:
    await adapter.send(Target.channel("slack", "C1", thread_id="1700000000.000100"), text_card("reply"))
    assert fake.of("chat.postMessage")[0].args["thread_ts"] == "1700000000.000100"


async def test_a_user_target_opens_the_dm_once(adapter: SlackAdapter, fake: FakeSlack) -> None:
    first = await adapter.send(Target.user("slack", "U0ANA0001"), text_card("hi"))
    await adapter.send(Target.user("slack", "U0ANA0001"), text_card("again"))
    assert [c.args["users"] for c in fake.of("conversations.open")] == ["U0ANA0001"]
    assert [c.args["channel"] for c in fake.of("chat.postMessage")] == ["D0ANA0001", "D0ANA0001"]
    assert first.channel_id == "D0ANA0001"


async def test_update_and_ephemeral(adapter: SlackAdapter, fake: FakeSlack) -> None:
    await adapter.update(MessageRef("slack", "C1", "1700000000.000100"), text_card("Votes: 3"))
    (update,) = fake.of("chat.update")
    assert (update.args["channel"], update.args["ts"], update.args["text"]) == ("C1", "1700000000.000100", "Votes: 3")
    assert blocks_of(update.args)[0]["text"]["text"] == "Votes: 3"
    await adapter.post_ephemeral("C1", "U0ANA0001", text_card("only you"))
    (ephemeral,) = fake.of("chat.postEphemeral")
    assert (ephemeral.args["channel"], ephemeral.args["user"]) == ("C1", "U0ANA0001")


async def test_members_are_paged_named_zoned_and_cached(adapter: SlackAdapter, fake: FakeSlack) -> None:
    fake.members["C1"] = ["U0ANA0001", BOT_USER, "U0MEI0001", "U0OLD0001", "U0HELPER1", "U0BEN0001"]
    fake.add_user("U0ANA0001", "Ana Souza", "America/Sao_Paulo")
    fake.add_user("U0MEI0001", "田中 芽衣", "Asia/Tokyo")
    fake.add_user("U0OLD0001", "Gone", "UTC", deleted=True)
    fake.add_user("U0HELPER1", "helper", "UTC", is_bot=True)
    fake.add_user("U0BEN0001", "Ben Okafor", "Europe/London")
    people = await adapter.list_members("C1")
    assert people == [Person("slack", "U0ANA0001", "Ana Souza", "America/Sao_Paulo"),
                      Person("slack", "U0MEI0001", "田中 芽衣", "Asia/Tokyo"),
                      Person("slack", "U0BEN0001", "Ben Okafor", "Europe/London")]
    assert [c.args.get("cursor") for c in fake.of("conversations.members")] == [None, "2", "4"]
    assert len(fake.of("users.info")) == 5 and len(fake.of("auth.test")) == 1
    assert await adapter.list_members("C1") == people
    assert len(fake.of("users.info")) == 5  # names and timezones came from the cache


async def test_member_ids_need_no_lookups(adapter: SlackAdapter, fake: FakeSlack) -> None:
    fake.members["C1"] = ["U0ANA0001", BOT_USER, "U0MEI0001", "U0HELPER1", "U0ANA0001"]
    fake.add_user("U0HELPER1", "helper", "UTC", is_bot=True)
    assert await adapter.member_ids("C1") == ["U0ANA0001", "U0MEI0001", "U0HELPER1"]
    assert fake.of("users.info") == []  # one conversations.members page per 200 people, nothing per person
    await adapter.person("U0HELPER1")
    assert await adapter.member_ids("C1") == ["U0ANA0001", "U0MEI0001"]  # known to be a bot: left out


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive",
                                  "invalid_auth", "msg_too_long", "invalid_blocks"])
async def test_permanent_errors_are_not_retried(adapter: SlackAdapter, fake: FakeSlack, code: str) -> None:
    fake.fail("chat.postMessage", error=code)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(Target.channel("slack", "C1"), CARD)
    assert (caught.value.reason, caught.value.retryable) == (code, False)


async def test_rate_limits_carry_retry_after(adapter: SlackAdapter, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(Target.channel("slack", "C1"), CARD)
    assert caught.value.retryable and caught.value.retry_after == 7.0 and not caught.value.maybe_delivered


@pytest.mark.parametrize("status, body", [(500, None), (503, "<html>Service Unavailable</html>"), (200, None)])
async def test_server_errors_are_retryable(adapter: SlackAdapter, fake: FakeSlack, status: int,
                                           body: str | None) -> None:
    fake.fail("chat.update", status=status, body=body, error="internal_error" if status == 200 else None)
    with pytest.raises(DeliveryError) as caught:
        await adapter.update(MessageRef("slack", "C1", "1.2"), CARD)
    assert caught.value.retryable and caught.value.retry_after is None and caught.value.maybe_delivered


async def test_timeouts_and_refused_connections_are_retryable(fake: FakeSlack, db: Database) -> None:
    slow = SlackAdapter(web_client("xoxb-test", fake.api_url), db)
    slow.client.timeout = 1
    fake.fail("chat.postMessage", delay=2)
    with pytest.raises(DeliveryError) as caught:
        await slow.send(Target.channel("slack", "C1"), CARD)
    assert caught.value.retryable and caught.value.maybe_delivered and "Timeout" in caught.value.reason
    nowhere = SlackAdapter(web_client("xoxb-test", f"http://127.0.0.1:{free_port()}/api/"), db)
    with pytest.raises(DeliveryError) as caught:
        await nowhere.send(Target.channel("slack", "C1"), CARD)
    assert caught.value.retryable and "Connect" in caught.value.reason


async def test_charts_are_uploaded_after_the_message(adapter: SlackAdapter, fake: FakeSlack, db: Database) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    async with db.session() as session:
        url = await save_chart(session, png)
        await session.commit()
    card = Card("Digest", (Heading("Weekly digest"), Image(url, "NPS by week"), Image("chart:missing", "gone")))
    ref = await adapter.send(Target.channel("slack", "C1", thread_id="1700000000.000100"), card)
    (post,) = fake.of("chat.postMessage")
    assert [b["type"] for b in blocks_of(post.args)] == ["header"]
    (ask,) = fake.of("files.getUploadURLExternal")
    assert ask.args["alt_txt"] == "NPS by week" and int(ask.args["length"]) == len(png)
    (complete,) = fake.of("files.completeUploadExternal")
    assert (complete.args["channel_id"], complete.args["thread_ts"]) == ("C1", "1700000000.000100")
    assert list(fake.uploads.values()) == [png]
    assert ref == MessageRef("slack", "C1", post.answer["ts"])


async def test_a_file_is_uploaded_into_the_dm_after_the_message(adapter: SlackAdapter, fake: FakeSlack,
                                                                db: Database) -> None:
    from bot.cards import File
    from bot.files import save_file

    data = "question,answer\n" + "".join(f"Как дела?,{n % 5 + 1}\n" for n in range(400))
    async with db.session() as session:
        url = await save_file(session, "pulse-3-run-4.csv", "text/csv", data.encode())
        await session.commit()
    card = Card("CSV", (Heading("CSV: Как дела?"), File(url, "pulse-3-run-4.csv", elsewhere="use the CLI")))
    await adapter.send(Target.user("slack", "U0ANA0001"), card)
    (opened,) = fake.of("conversations.open")
    (post,) = fake.of("chat.postMessage")
    assert post.args["channel"] == opened.answer["channel"]["id"]
    (ask,) = fake.of("files.getUploadURLExternal")
    assert ask.args["filename"] == "pulse-3-run-4.csv" and "alt_txt" not in ask.args
    (complete,) = fake.of("files.completeUploadExternal")
    assert complete.args["channel_id"] == opened.answer["channel"]["id"]
    assert list(fake.uploads.values()) == [data.encode()]  # the whole export, not the first rows


async def test_a_failed_chart_upload_does_not_fail_the_posted_message(adapter: SlackAdapter, fake: FakeSlack,
                                                                     db: Database) -> None:
    async with db.session() as session:
        url = await save_chart(session, b"png")
        await session.commit()
    fake.fail("files.getUploadURLExternal", status=500)
    ref = await adapter.send(Target.channel("slack", "C1"), Card("Digest", (Image(url, "chart"),)))
    assert ref.channel_id == "C1" and len(fake.of("chat.postMessage")) == 1


async def test_a_keyed_post_carries_its_delivery_in_message_metadata(adapter: SlackAdapter, fake: FakeSlack) -> None:
    await adapter.send(Target.channel("slack", "C1"), text_card("hi"), key="fb:1:slack:C1")
    await adapter.send(Target.channel("slack", "C1"), text_card("no key"))
    keyed, plain = fake.of("chat.postMessage")
    assert keyed.args["metadata"] == {"event_type": "earshot_delivery", "event_payload": {"delivery": "fb:1:slack:C1"}}
    assert "metadata" not in plain.args


async def test_find_sent_pages_back_through_history_to_the_marked_post(adapter: SlackAdapter,
                                                                      fake: FakeSlack) -> None:
    since = utcnow()
    ref = await adapter.send(Target.channel("slack", "C1"), text_card("quote"), key="fb:1")
    fake.post("C1", "a person quoting it", user="U0ANA0001", metadata=mark("fb:2"))
    for n in range(4):
        await adapter.send(Target.channel("slack", "C1"), text_card(f"later {n}"), key=f"fb:{n + 10}")
    assert await adapter.find_sent(Target.channel("slack", "C1"), "fb:1", since) == ref
    history = fake.of("conversations.history")
    assert len(history) == 3 and {c.args["include_all_metadata"] for c in history} == {"1"}
    assert float(history[0].args["oldest"]) <= since.timestamp()
    assert await adapter.find_sent(Target.channel("slack", "C1"), "fb:2", since) is None  # not the bot's post
    assert await adapter.find_sent(Target.channel("slack", "C1"), "fb:404", since) is None
    assert await adapter.find_sent(Target.channel("slack", "C1"), "fb:1", since + timedelta(hours=1)) is None


async def test_find_sent_opens_the_dm_and_reads_threads_with_replies(adapter: SlackAdapter, fake: FakeSlack,
                                                                    db: Database) -> None:
    since = utcnow()
    dm = await adapter.send(Target.user("slack", "U0ANA0001"), text_card("pulse"), key="pulse:1:U0ANA0001")
    reply = await adapter.send(Target.channel("slack", "C1", thread_id="1700000000.000100"), text_card("discuss"),
                               key="discuss:1")
    fresh = SlackAdapter(adapter.client, db)  # a new worker: no DM cached yet
    assert await fresh.find_sent(Target.user("slack", "U0ANA0001"), "pulse:1:U0ANA0001", since) == dm
    assert [c.args["users"] for c in fake.of("conversations.open")] == ["U0ANA0001", "U0ANA0001"]
    assert await fresh.find_sent(Target.channel("slack", "C1", thread_id="1700000000.000100"), "discuss:1",
                                 since) == reply
    (replies,) = fake.of("conversations.replies")
    assert replies.args["ts"] == "1700000000.000100"
    assert await fresh.find_sent(Target.channel("slack", "C1"), "discuss:1", since) is None  # not in the channel
