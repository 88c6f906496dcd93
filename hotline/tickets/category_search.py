"""Finding a taxonomy class while the caller talks: by Chinese text, by pinyin initials
("ljdf" → 垃圾堆放), by full pinyin ("lajiduifang") or any mix ("lajidf"), by code, or by the
English name.

The pinyin of every class name is worked out once, when an index is built from the taxonomy
(`CategoryIndex.build`), never per keystroke; `index_for` keeps the index of the taxonomy as
it is stored and builds a new one only when a load changed a class. Polyphonic characters keep
every reading pypinyin knows (phrase readings first), so 行道树 is found by "xds" and
乐 by "le" or "yue".
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.storage.models import Category, CategoryKind

#: One character's readings, most likely first; a Latin or digit run is one "syllable" of its own.
Syllable = tuple[str, ...]
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[a-z0-9]+")
MAX_QUERY = 40


@lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[Syllable, ...]:
    """The readings of each Chinese character of `text` in order; runs of Latin letters or
    digits count as one syllable each; punctuation and spaces are dropped."""
    # Imported here: its dictionaries take a noticeable part of a second and ~200,000 objects,
    # which the desk's start-up should not pay before anyone searches.
    from pypinyin import Style, pinyin

    out: list[Syllable] = []
    for item in pinyin(unicodedata.normalize("NFKC", text), style=Style.NORMAL, heteronym=True, errors="default"):
        if all(_plain_reading(r) for r in item):
            out.append(tuple(dict.fromkeys(item)))
        else:  # a run pypinyin left alone: "(LED)", "24", "、"
            out.extend((run,) for run in _LATIN.findall(item[0].lower()))
    return tuple(out)


def _plain_reading(text: str) -> bool:
    return text.isascii() and text.isalpha() and text.islower()


def normalise_query(text: str) -> str:
    """What the operator typed, comparable with names: NFKC (full-width letters), lower case,
    no spaces or apostrophes ("xi'an")."""
    return re.sub(r"[\s'’·]+", "", unicodedata.normalize("NFKC", text)).lower()[:MAX_QUERY]


def _matches_from(sylls: tuple[Syllable, ...], query: str, start: int) -> bool:
    """Can `query` be spelled by consecutive syllables from `start`, each by a non-empty prefix
    of one of its readings (so initials, whole syllables and mixes all work)?"""

    def walk(position: int, index: int) -> bool:
        if position == len(query):
            return True
        if index == len(sylls):
            return False
        for reading in sylls[index]:
            longest = min(len(reading), len(query) - position)
            for k in range(longest, 0, -1):
                if reading[:k] == query[position : position + k] and walk(position + k, index + 1):
                    return True
        return False

    return walk(0, start)


def pinyin_rank(sylls: tuple[Syllable, ...], query: str) -> int | None:
    """0 when `query` spells the name from its first syllable, 1 from a later one, None if not at all."""
    if not query or not query.isascii() or not query.isalnum():
        return None
    for start in range(len(sylls)):
        if _matches_from(sylls, query, start):
            return 0 if start == 0 else 1
    return None


@dataclass(frozen=True)
class Entry:
    id: int
    code: str
    kind: str
    name_zh: str
    name_en: str
    parent_zh: str
    parent_en: str
    #: A minor (leaf) class: the one an operator normally files under.
    minor: bool
    sylls: tuple[Syllable, ...]

    @property
    def initials(self) -> str:
        return "".join(s[0][:1] for s in self.sylls)

    @property
    def spelled(self) -> str:
        return " ".join(s[0] for s in self.sylls)


@dataclass(frozen=True)
class Hit:
    entry: Entry
    #: Lower is better: exact name, name prefix, code, name contains, pinyin from the start, pinyin inside, English.
    score: int

    def as_json(self) -> dict[str, object]:
        e = self.entry
        return {
            "id": e.id, "code": e.code, "kind": e.kind, "name_zh": e.name_zh, "name_en": e.name_en or e.name_zh,
            "parent_zh": e.parent_zh, "parent_en": e.parent_en, "minor": e.minor, "pinyin": e.spelled, "initials": e.initials,
        }  # fmt: skip


@dataclass(frozen=True)
class CategoryIndex:
    entries: tuple[Entry, ...]
    signature: int

    @classmethod
    def build(cls, categories: list[Category]) -> CategoryIndex:
        by_id = {c.id: c for c in categories}
        entries = []
        parents = {c.parent_id for c in categories if c.parent_id is not None}
        for c in categories:
            parent = by_id.get(c.parent_id) if c.parent_id is not None else None
            entries.append(
                Entry(
                    id=c.id,
                    code=c.code,
                    kind=CategoryKind(c.kind).value,
                    name_zh=c.name_zh,
                    name_en=c.name_en,
                    parent_zh=parent.name_zh if parent else "",
                    parent_en=(parent.name_en or parent.name_zh) if parent else "",
                    minor=c.parent_id is not None or c.id not in parents,
                    sylls=syllables(c.name_zh),
                )
            )
        return cls(tuple(sorted(entries, key=lambda e: e.code)), _signature(categories))

    def search(self, text: str, limit: int = 12) -> list[Hit]:
        """The best `limit` classes for what the operator typed, best first; minor classes
        before major ones at equal score, then by code."""
        query = normalise_query(text)
        if not query:
            return []
        hits = []
        for e in self.entries:
            score = _score(e, query)
            if score is not None:
                hits.append(Hit(e, score))
        hits.sort(key=lambda h: (h.score, not h.entry.minor, h.entry.code))
        return hits[:limit]


def _score(e: Entry, query: str) -> int | None:
    name = normalise_query(e.name_zh)
    if name == query:
        return 0
    if name.startswith(query):
        return 1
    if query.isdigit() and e.code.startswith(query):
        return 2
    if _HAN.search(query):
        return 3 if query in name else None
    rank = pinyin_rank(e.sylls, query)
    if rank is not None:
        return 4 + rank
    if len(query) >= 3 and query in normalise_query(e.name_en):
        return 6
    return None


def _signature(categories: list[Category]) -> int:
    return hash(tuple(sorted((c.id, c.code, c.name_zh, c.name_en, c.parent_id) for c in categories)))


_cache: dict[str, CategoryIndex] = {}
_cache_lock = threading.Lock()


def index_for(session: Session) -> CategoryIndex:
    """The index of the active classes as stored now: reused while no load changed them (one
    cheap read of ~200 rows per search), rebuilt when one did. Safe from the pool's threads."""
    categories = list(session.scalars(select(Category).where(Category.active.is_(True))))
    signature = _signature(categories)
    key = str(session.get_bind().engine.url)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.signature == signature:
            return cached
    index = CategoryIndex.build(categories)
    with _cache_lock:
        _cache[key] = index
    return index
