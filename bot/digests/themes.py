"""Recurring phrases in short texts, in any script, with no model: word n-grams. Words are split at spaces
where a script has them, and by ICU's dictionary word breaker where it does not (Thai, Japanese, Chinese, Lao,
Khmer, Burmese), so a theme is always whole words, never a fragment starting mid-syllable.

A phrase's weight is how many texts contain it. A phrase mostly seen inside a longer one that is kept
(“refund” inside “refund request”, “ชำระ” inside “ชำระเงิน”) is absorbed into it, so each theme shows once,
at its most telling length.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import regex
from icu4py.breakers import WordBreaker

Gram = tuple[bool, tuple[str, ...]]
"""(spaced, words): a phrase shows its words joined by a space when its script is spaced, joined directly
when not."""

_UNSPACED = r"\p{Thai}\p{Han}\p{Hiragana}\p{Katakana}\p{Lao}\p{Khmer}\p{Myanmar}ー々"
_RUNS = regex.compile(rf"(?P<unspaced>[{_UNSPACED}]+)|(?P<spaced>[\p{{L}}\p{{M}}\p{{N}}'’-]+)")
_GRAPHEME = regex.compile(r"\X")
_HIRAGANA = regex.compile(r"[\p{Hiragana}ー]+")
_WORD_EDGES = "'’-"
MAX_WORDS = 3
MAX_UNSPACED_WORDS = 4
"""Dictionary words of unspaced scripts are shorter than spaced ones (ชำระ·เงิน·ไม่·ได้ is “can't pay”)."""
MIN_GRAPHEMES = 2
"""An unspaced phrase this short (one character: 多, 慢) is too vague to be a theme."""
ABSORB = 0.75
"""A phrase is absorbed by a longer one seen in at least this share of the texts it is seen in."""
TEXT_LIMIT = 600

STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "had", "has", "have", "how", "i", "i'm", "if", "in", "is", "it", "it's", "its", "just", "me", "my",
    "no", "not", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "this",
    "to", "too", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would",
    "you", "your", "very", "really", "also", "get", "got", "im", "dont", "don't", "can't", "cant", "still", "el",
    "la", "los", "las", "de", "del", "y", "que", "en", "un", "una", "es", "por", "con", "para", "no", "se", "lo",
    "al", "le", "les", "des", "et", "est", "pas", "pour", "dans", "du", "au", "der", "die", "das", "und", "ist",
    "nicht", "mit", "zu", "ein", "eine", "den", "dem", "ich", "es", "sie", "wir", "auf", "für", "o", "os", "as",
    "um", "uma", "com", "não", "do", "da", "и", "в", "не", "на", "что", "с", "я", "а", "это", "как", "но", "по",
    "к", "у", "из", "за", "так", "же", "то", "все", "мне", "очень", "و", "در", "به", "از", "که", "این", "را", "با",
    "است", "برای", "آن", "یک", "هم", "خیلی", "من", "ما", "في", "من", "على", "أن", "إلى", "عن", "مع", "هذا", "هذه",
    "كان", "لا", "ما", "до", "от", "для", "при", "бы", "был", "была", "было", "были", "он", "она", "они", "мы",
    "вы", "ещё", "еще", "уже", "только", "когда", "если", "или", "нет", "да", "есть", "меня", "нас", "вас", "их",
    "его", "ее", "её", "і", "й", "та", "що", "це", "з", "як", "але", "дуже", "мені", "ми", "вже", "ще", "для",
    "від", "чи", "бо", "був", "була", "було", "були", "мене", "нас", "вони", "ви", "بود", "شد", "می",
    "ها", "های", "هست", "نیست", "کرد", "باید", "تا", "اما", "ولی", "چون", "اگر", "روی", "دیگر", "همه", "خود",
    "شده", "بودند", "کنم", "کنید", "نه",
))
UNSPACED_STOP = frozenset((
    # Thai
    "ที่", "และ", "มาก", "การ", "ของ", "ใน", "เป็น", "มี", "ได้", "ให้", "จะ", "ครับ", "ค่ะ", "คะ", "นะ", "ก็",
    "แล้ว", "กับ", "ว่า", "ไม่", "ไม่ได้", "ความ", "เลย", "ฉัน", "ผม", "เรา", "คุณ", "นี้", "นั้น", "อยู่", "ไป", "มา",
    # Chinese
    "的", "了", "是", "我", "你", "他", "她", "在", "有", "不", "很", "也", "都", "就", "和", "吗", "呢", "吧",
    "啊", "我们", "你们", "这个", "那个", "什么", "没有", "非常", "一个", "我要",
    # Japanese (all-hiragana words are grammar and are never at a phrase's edge, see _edge_ok)
    "です", "ます", "した", "して", "これ", "それ", "から", "まで", "ので", "けど", "でも", "とても",
    # Lao
    "ການ", "ແລະ", "ທີ່", "ບໍ່", "ໄດ້", "ບໍ່ໄດ້", "ຫຼາຍ", "ແລ້ວ", "ຂອງ", "ໃນ", "ເປັນ", "ມີ", "ຈະ", "ກໍ", "ຂ້ອຍ",
    # Khmer
    "ការ", "និង", "ដែល", "មិន", "បាន", "មិនបាន", "ជា", "នៅ", "ណាស់", "ខ្ញុំ", "របស់", "ក្នុង", "មាន", "នឹង", "ហើយ",
    # Burmese
    "တယ်", "သည်", "ပါ", "ကို", "က", "မှာ", "နဲ့", "ရဲ့", "မ", "ဘူး", "များ", "တွေ", "လည်း", "ပါတယ်", "ကျွန်တော်",
))
CANNOT = frozenset(("ไม่ได้", "ບໍ່ໄດ້", "មិនបាន"))
"""“Not able to”: grammar words alone, but they end a phrase after the verb they deny (ชำระเงินไม่ได้)."""


@dataclass(frozen=True)
class Theme:
    phrase: str
    texts: int


def phrases_of(text: str) -> set[Gram]:
    """Every candidate phrase in one text, once."""
    folded = _fold(text[:TEXT_LIMIT])
    grams: set[Gram] = set()
    words: list[str] = []

    def flush() -> None:
        for size in range(1, MAX_WORDS + 1):
            for i in range(len(words) - size + 1):
                chunk = tuple(words[i:i + size])
                if chunk[0] not in STOP_WORDS and chunk[-1] not in STOP_WORDS:
                    grams.add((True, chunk))
        words.clear()

    for match in _RUNS.finditer(folded):
        if match.lastgroup == "spaced":
            word = match.group().strip(_WORD_EDGES)
            if _is_word(word):
                words.append(word)
            else:
                flush()
            if match.end() < len(folded) and folded[match.end()] in ",.;:!?()\"«»—":
                flush()  # a phrase does not run across punctuation
            continue
        flush()
        segmented = list(WordBreaker(match.group(), "und"))
        for size in range(1, MAX_UNSPACED_WORDS + 1):
            for i in range(len(segmented) - size + 1):
                chunk = tuple(segmented[i:i + size])
                if _unspaced_ok(chunk):
                    grams.add((False, chunk))
    flush()
    return grams


def _fold(text: str) -> str:
    """Compatibility forms (full-width Latin, half-width kana) folded, but Thai SARA AM kept whole: NFKC
    splits it into two marks, which would split every word that has it."""
    return unicodedata.normalize("NFKC", text).casefold().replace("\u0e4d\u0e32", "\u0e33")


def _is_word(word: str) -> bool:
    if not word or word.isdigit():
        return False
    return len(word) >= 3 or not word.isascii()


def _unspaced_ok(chunk: tuple[str, ...]) -> bool:
    """A phrase of dictionary words that neither starts nor ends with grammar, and says more than one
    character."""
    ends = _edge_ok(chunk[-1]) or any(
        "".join(chunk[-n:]) in CANNOT and _edge_ok(chunk[-n - 1]) for n in (1, 2) if len(chunk) > n)
    return _edge_ok(chunk[0]) and ends and len(_GRAPHEME.findall("".join(chunk))) >= MIN_GRAPHEMES


def _edge_ok(word: str) -> bool:
    # Japanese words written in hiragana alone are particles, endings and okurigana (の, ます, すぎ)
    return word not in UNSPACED_STOP and not _HIRAGANA.fullmatch(word)


def count_phrases(texts: Iterable[str]) -> Counter[Gram]:
    """How many of `texts` contain each phrase."""
    counts: Counter[Gram] = Counter()
    for text in texts:
        counts.update(phrases_of(text))
    return counts


def count_phrases_by(owned: Iterable[tuple[str, str]]) -> tuple[dict[str, Counter[Gram]], Counter[Gram]]:
    """`count_phrases` per owner and over all the (owner, text) pairs at once, reading each distinct text once
    (short answers repeat: "too many meetings", "ok")."""
    by_owner: dict[str, Counter[Gram]] = defaultdict(Counter)
    everyone: Counter[Gram] = Counter()
    read: dict[str, set[Gram]] = {}
    for owner, text in owned:
        phrases = read.get(text)
        if phrases is None:
            phrases = read[text] = phrases_of(text)
        by_owner[owner].update(phrases)
        everyone.update(phrases)
    return dict(by_owner), everyone


def prune(counts: Counter[Gram], everywhere: Counter[Gram], at_least: int = 2) -> Counter[Gram]:
    """Drop phrases seen in fewer than `at_least` texts in all (they can never be a theme, in any sum of
    counts); keeps merging cheap. A phrase seen once in each of two areas stays: a team hearing both has it
    twice."""
    return Counter({gram: n for gram, n in counts.items() if everywhere[gram] >= at_least})


def top_themes(counts: Counter[Gram], limit: int = 5, at_least: int = 2) -> list[Theme]:
    """The most widespread phrases, each at its most telling length."""
    longest_around: dict[Gram, int] = {}
    for (spaced, units), n in counts.items():
        if len(units) > 1:
            for part in ((spaced, units[:-1]), (spaced, units[1:])):
                if n > longest_around.get(part, 0):
                    longest_around[part] = n
    kept = {gram: n for gram, n in counts.items() if n >= at_least and longest_around.get(gram, 0) < ABSORB * n}
    candidates = [(n, gram) for gram, n in kept.items()]
    candidates.sort(key=lambda pair: (-pair[0], -len(pair[1][1]), _phrase(pair[1])))
    chosen: list[Theme] = []
    for n, gram in candidates:
        phrase = _phrase(gram)
        if any(phrase in kept.phrase or kept.phrase in phrase for kept in chosen):
            continue
        chosen.append(Theme(phrase, n))
        if len(chosen) == limit:
            break
    return chosen


def _phrase(gram: Gram) -> str:
    spaced, units = gram
    return " ".join(units) if spaced else "".join(units)
