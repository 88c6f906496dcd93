"""Are two addresses, as operators type them, the same place? No geocoder is available to the
hotline, so the comparison is textual, built for how Chinese street addresses are written:
province/city/district prefixes are dropped (callers say them or not), full-width characters,
spaces and punctuation are ignored, house numbers in Chinese numerals become digits, and then
road + number is compared first ("香港中路1号" and "市南区香港中路 1 号" are the same place;
"香港中路3号" is next door), the whole text by similarity otherwise ("五四广场东侧" and
"五四广场东边")."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

#: Administrative prefixes: 山东省, 青岛市, 市南区 (not 小区/社区, which are places), 城阳县, 八大关街道.
_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{1,8}?(?:省|自治区|(?<![小社园])区|市|县|旗|镇|乡|街道办事处|街道办|街道))+")
_ROAD = re.compile(r"[\u4e00-\u9fff]{1,8}?(?:大道|大街|胡同|公路|路|街|巷|弄)")
_NUMBER = re.compile(r"(\d+)(?:号|弄|栋|幢|号楼)")
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CHINESE_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=号|弄|栋|幢|单元|楼|层|室)")
#: Below this similarity two addresses are different places.
THRESHOLD = 0.6


def _chinese_to_int(text: str) -> int | None:
    """一百零五 → 105, 十二 → 12, 二三 → 23 (read digit by digit); None if it is not a number."""
    if all(c in _DIGITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c in _DIGITS:
            digit = _DIGITS[c]
        elif c in _UNITS:
            total += (digit or 1) * _UNITS[c]
            digit = 0
        else:
            return None
    return total + digit


def normalise(address: str) -> str:
    """The comparable form: NFKC (full-width digits), lower case, no administrative prefix,
    no spaces or punctuation, house numbers in digits."""
    text = _DROP.sub("", unicodedata.normalize("NFKC", address).lower())
    text = _CHINESE_NUMBER.sub(lambda m: str(n) if (n := _chinese_to_int(m.group(1))) is not None else m.group(1), text)
    stripped = _PREFIX.sub("", text)
    return stripped or text


@dataclass(frozen=True)
class Place:
    text: str
    roads: tuple[str, ...]
    number: int | None

    @classmethod
    def parse(cls, address: str) -> Place:
        text = normalise(address)
        roads = tuple(dict.fromkeys(m.group(0) for m in _ROAD.finditer(text)))
        found = _NUMBER.search(text)
        return cls(text, roads, int(found.group(1)) if found else None)


def similarity(a: Place | str, b: Place | str) -> float:
    """0 (elsewhere) to 1 (the same place)."""
    a = a if isinstance(a, Place) else Place.parse(a)
    b = b if isinstance(b, Place) else Place.parse(b)
    if not a.text or not b.text:
        return 0.0
    if a.text == b.text:
        return 1.0
    text = SequenceMatcher(None, a.text, b.text, autojunk=False).ratio()
    if a.roads and b.roads and _same_road(a.roads[0], b.roads[0]):
        if a.number is not None and b.number is not None:
            gap = abs(a.number - b.number)
            # Same road: the same number is the same place; a few doors along is still "nearby".
            return 1.0 if gap == 0 else max(text, 0.9 - 0.03 * gap) if gap <= 10 else min(text, 0.5)
        return max(text, 0.75)
    if any(_same_road(x, y) for x in a.roads for y in b.roads):
        # A crossing named from the other road ("香港中路与燕儿岛路路口" / "燕儿岛路10号").
        return max(text, 0.7)
    return text


def _same_road(x: str, y: str) -> bool:
    """The same road, allowing a word the pattern took in front ("与燕儿岛路" is 燕儿岛路)."""
    short, long = sorted((x, y), key=len)
    return short == long or (len(short) >= 3 and long.endswith(short))
