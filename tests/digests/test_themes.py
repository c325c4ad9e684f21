"""Phrase extraction in spaced and unspaced scripts, with no model."""

from __future__ import annotations

from bot.digests.themes import count_phrases, phrases_of, top_themes


def themes(texts: list[str]) -> list[str]:
    return [t.phrase for t in top_themes(count_phrases(texts), limit=10)]


def test_word_phrases_in_spaced_scripts() -> None:
    assert themes(["The checkout failed again", "checkout failed, twice", "why has checkout failed?"]) == [
        "checkout failed"]
    assert themes(["Приложение вылетает", "приложение вылетает постоянно"]) == ["приложение вылетает"]
    assert themes(["پرداخت خطا می‌دهد", "پرداخت خطا داد"]) == ["پرداخت خطا"]


def test_thai_without_spaces_keeps_whole_words() -> None:
    found = themes(["ระบบชำระเงินช้ามาก", "ชำระเงินไม่ได้", "หน้าชำระเงินค้าง"])
    assert found == ["ชำระเงิน"]  # SARA AM survives normalisation, and the pieces join into one phrase


def test_japanese_and_chinese_without_spaces() -> None:
    assert themes(["アプリの通知が多すぎます", "通知がうるさい", "通知を減らしてほしい"]) == ["通知"]
    assert "退款" in themes(["我要退款", "退款太慢了", "什么时候退款"])


def test_stop_words_and_particles_are_not_themes() -> None:
    assert themes(["it is the best", "it is the worst", "it is"]) == []
    assert all("の" not in p[-1] for p in themes(["アプリの問題", "アプリの問題です"]))


def test_a_phrase_counts_once_per_text_and_needs_two_texts() -> None:
    assert themes(["refund refund refund"]) == []
    assert sum(1 for gram in phrases_of("refund refund") if gram == (True, ("refund",))) == 1


def test_full_width_latin_folds() -> None:
    assert themes(["ＲＥＦＵＮＤ please", "refund please"]) == ["refund please"]
