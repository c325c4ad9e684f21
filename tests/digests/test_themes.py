"""Phrase extraction in spaced and unspaced scripts, with no model."""

from __future__ import annotations

import unicodedata

import pytest
from icu4py.breakers import WordBreaker

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
    assert found == ["ชำระเงิน"]  # SARA AM survives normalisation; ชำระ and เงิน are one theme together


def test_japanese_and_chinese_without_spaces() -> None:
    assert themes(["アプリの通知が多すぎます", "通知がうるさい", "通知を減らしてほしい"]) == ["通知"]
    assert "退款" in themes(["我要退款", "退款太慢了", "什么时候退款"])


def test_stop_words_and_particles_are_not_themes() -> None:
    assert themes(["it is the best", "it is the worst", "it is"]) == []
    assert all("の" not in p[-1] for p in themes(["アプリの問題", "アプリの問題です"]))


def test_russian_ukrainian_and_persian_grammar_words_are_not_themes() -> None:
    """Words the demo's feedback showed at a theme's edge (до, від, بود): a theme starts and ends on content."""
    for texts, grammar in ((["Ждал до вечера", "ждал до утра"], "до"), (["лист від банку", "дзвінок від банку"], "від"),
                           (["سفارش دیر بود", "پشتیبانی خوب بود"], "بود")):
        found = themes(texts)
        assert all(grammar not in (t.split()[0], t.split()[-1]) for t in found), found


def test_a_phrase_counts_once_per_text_and_needs_two_texts() -> None:
    assert themes(["refund refund refund"]) == []
    assert sum(1 for gram in phrases_of("refund refund") if gram == (True, ("refund",))) == 1


def test_full_width_latin_folds() -> None:
    assert themes(["ＲＥＦＵＮＤ please", "refund please"]) == ["refund please"]


UNSPACED = {
    "thai": (["อาหารมาช้ามาก รอนานเกินไป", "พนักงานบริการดีมาก แต่อาหารมาช้า", "ชำระเงินไม่ได้ แอปค้างบ่อยมาก",
              "แอปค้างตอนชำระเงิน"], ["อาหารมาช้า", "ชำระเงิน", "แอปค้าง"]),
    "japanese": (["アプリの通知が多すぎます", "通知がうるさいので減らしてほしい", "ログインできません",
                  "またログインできない"], ["ログイン", "通知"]),
    "chinese": (["退款太慢了，等了两个星期", "什么时候可以退款？", "应用经常崩溃", "这个应用一打开就崩溃"],
                ["崩溃", "应用", "退款"]),
    "lao": (["ການຈ່າຍເງິນຊ້າຫຼາຍ", "ຈ່າຍເງິນບໍ່ໄດ້ ແອັບຄ້າງ", "ພະນັກງານບໍລິການດີຫຼາຍ", "ພະນັກງານບໍ່ສຸພາບ"],
            ["ຈ່າຍເງິນ", "ພະນັກງານ"]),
    "khmer": (["ការទូទាត់យឺតណាស់", "ទូទាត់យឺតពេក", "កម្មវិធីគាំងរាល់ថ្ងៃ", "កម្មវិធីគាំងម្តងទៀត"],
              ["កម្មវិធីគាំង", "ទូទាត់យឺត"]),
    "burmese": (["ငွေပေးချေမှု နှေးလွန်းတယ်", "ငွေပေးချေလို့ မရဘူး", "ဝန်ထမ်းတွေ ဝန်ဆောင်မှု ကောင်းတယ်",
                 "ဝန်ထမ်း ယဉ်ကျေးတယ်"], ["ငွေပေးချေ", "ဝန်ထမ်း"]),
}


@pytest.mark.parametrize("script", sorted(UNSPACED))
def test_unspaced_scripts_give_whole_dictionary_words(script: str) -> None:
    texts, expected = UNSPACED[script]
    found = themes(texts)
    assert sorted(found) == sorted(expected)
    for phrase in found:
        assert not unicodedata.category(phrase[0]).startswith("M"), phrase
        assert any(_on_word_edges(phrase, text) for text in texts), phrase


def _on_word_edges(phrase: str, text: str) -> bool:
    """`phrase` occurs in `text` starting and ending where the dictionary puts word boundaries."""
    edges = {0} | {end for _, end in WordBreaker(text, "und").segments()}
    start = text.find(phrase)
    return start >= 0 and start in edges and start + len(phrase) in edges


def test_thai_common_word_gives_no_fragments() -> None:
    """The digest once showed `มา · าก`: grapheme pieces of มาก (“very”), which is grammar, not a theme."""
    found = themes(["ช้ามาก", "แพงมาก", "รอนานมาก", "ดีมาก ขอบคุณ"])
    assert found == []


def test_cannot_ends_a_phrase_after_its_verb() -> None:
    """ไม่ได้ / ບໍ່ໄດ້ (“can't”) are grammar alone, but “can't pay” is the theme, not “pay”."""
    assert themes(["ชำระเงินไม่ได้เลย", "ชำระเงินไม่ได้ ช้ามาก"]) == ["ชำระเงินไม่ได้"]
    assert themes(["ຈ່າຍເງິນບໍ່ໄດ້ ແອັບຄ້າງ", "ຈ່າຍເງິນບໍ່ໄດ້ອີກແລ້ວ"]) == ["ຈ່າຍເງິນບໍ່ໄດ້"]
    assert themes(["ไม่ได้", "ไม่ได้"]) == []
