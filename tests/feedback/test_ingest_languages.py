"""Items without a language get one detected, so `lang:` stations hear every source; short or ambiguous text
gets none rather than a guess, and a language the sender gives is kept."""

from __future__ import annotations

from sqlmodel import select

from bot.feedback.languages import detect_languages
from storage.engine import Database
from storage.tables import Delivery, Feedback, Station
from tests.support.core import make_harness


def test_detection_names_the_languages_written_here_and_declines_to_guess() -> None:
    texts = ["ระบบชำระเงินช้ามาก รอนานเกือบ 5 นาที", "پشتیبانی خیلی سریع بود", "Приложение вылетает при оплате",
             "Експорт у CSV ламає кирилицю", "Checkout failed twice, please fix it", "アプリの通知が多すぎます",
             "Ótimo aplicativo, recomendo muito", "ok", "Super", "thanks!", "Très bien merci", "", "12345 !!!"]
    assert detect_languages(texts) == ["th", "fa", "ru", "uk", "en", "ja", "pt", None, None, None, None, None, None]
    assert detect_languages(["Das ist wirklich sehr gut, danke schön"]) == ["de"]  # one text: the same answer


async def test_lang_stations_hear_items_whose_language_was_detected(db: Database) -> None:
    h = make_harness(db)
    async with h.db.session() as session:
        session.add_all([Station(platform="test", channel_id="C-th", filters={"languages": ["th"]}, created_by="t:a"),
                         Station(platform="test", channel_id="C-fa", filters={"languages": ["fa"]}, created_by="t:a")])
        await session.commit()
    items = [{"id": "1", "source": "appstore", "text": "แอปค้างบ่อยมาก ใช้งานไม่ได้เลย"},
             {"id": "2", "source": "appstore", "text": "برنامه خیلی کند است و مدام قطع می‌شود"},
             {"id": "3", "source": "appstore", "text": "ok", "score": 5, "score_type": "rating"},
             {"id": "4", "source": "appstore", "text": "แอปค้างบ่อยมาก", "language": "fa-IR"}]  # given: kept
    result = await h.features.stations.ingest.ingest(items)
    assert result.accepted == 4
    async with h.db.session() as session:
        stored = list(await session.exec(select(Feedback)))
        external = {f.id: f.external_id for f in stored}
        routed = sorted((d.target["channel_id"], external[d.subject_id]) for d in await session.exec(select(Delivery)))
    assert {f.external_id: f.language for f in stored} == {"1": "th", "2": "fa", "3": None, "4": "fa-IR"}
    assert routed == [("C-fa", "2"), ("C-fa", "4"), ("C-th", "1")]


async def test_a_resend_without_a_language_is_a_duplicate_and_keeps_the_one_given(db: Database) -> None:
    """A detected language only fills a new item: the tool's retry without its `language` changes nothing."""
    h = make_harness(db)
    ingest = h.features.stations.ingest.ingest
    item = {"id": "7", "source": "forms", "text": "Ótimo aplicativo, recomendo muito para todos"}
    assert (await ingest([{**item, "language": "pt-BR"}])).accepted == 1
    again = await ingest([item])
    assert (again.updated, again.duplicates) == (0, 1)
    async with h.db.session() as session:
        assert (await session.exec(select(Feedback.language))).one() == "pt-BR"
