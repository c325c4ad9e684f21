"""The language codes `lang:` accepts: every ISO 639-1 code (183, as of the 2023 list), plus a few ISO 639-3
codes for languages that have no two-letter code but turn up in customer feedback (Filipino, Cantonese,
Cebuano, Hawaiian, Hmong, Central Kurdish). Feedback items carry BCP 47 tags, whose first part is one of
these; a region or script may follow (pt-BR, zh-Hant)."""

from __future__ import annotations

import re

_TWO_LETTER = """
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en
eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja
jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb
nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_TWO_LETTER.split())
THREE_LETTER = frozenset({"fil", "yue", "ceb", "haw", "hmn", "ckb"})
KNOWN = ISO_639_1 | THREE_LETTER
_SUBTAG = re.compile(r"[A-Za-z0-9]{1,8}")


def known_language(tag: str) -> bool:
    """Whether `tag` (th, fa-IR, zh_Hant) starts with a known language code; region and script parts are only
    checked for shape."""
    base, *rest = re.split(r"[-_]", tag)
    return base.lower() in KNOWN and all(_SUBTAG.fullmatch(part) for part in rest)


def language_tag(tag: str | None) -> str | None:
    """An item's language as a BCP 47 tag for markup (`lang="zh-Hant"`): stored tags may use `_` (zh_Hant)."""
    return tag.replace("_", "-") if tag else None
