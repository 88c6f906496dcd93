"""The knowledge base (知识库): prepared answers to consultations, written and reviewed by
supervisors, searched by operators while the caller is on the line, and used to close a
consultation as answered directly (直接答复) through the workflow's own answer move.

Search splits the caller's words with jieba (Chinese has no spaces: 井盖丢了怎么办 → 井盖 / 丢 /
怎么办) and scores each active answer by the words found in its title, keywords and text. The
base is small (hundreds of answers), so the answers are read and scored here rather than in
SQL, which is the same on SQLite and PostgreSQL. jieba's dictionary takes about a second to
load: it is loaded at the first search, on the database pool's thread that runs it, never at
desk start-up nor on the reactor.

Each function runs in the caller's transaction and writes its audit entry in it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.storage.models import Category, KnowledgeAnswer, Role, Ticket, User, utcnow
from hotline.tickets import desk
from hotline.tickets.services import TicketPolicy
from hotline.tickets.workflow import Action, InvalidValue
from hotline.users import SignedIn

#: Who writes and edits answers; only a supervisor reviews them (an administrator keeps the
#: base tidy but does not vouch for what operators tell callers).
EDITORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
REVIEWERS = frozenset({Role.SUPERVISOR})
#: Field lengths: the column sizes.
LIMITS = {"title": 200, "answer": 4000, "keywords": 300}
MAX_QUERY = 200
MAX_RESULTS = 20
#: Words that every question has and that find nothing by themselves.
STOPWORDS = frozenset(("的", "了", "吗", "呢", "吧", "啊", "呀", "我", "你", "他", "她", "我们", "是", "在", "有", "和", "与", "或", "要", "想", "能", "会", "可以", "怎么", "怎么办", "怎样", "如何", "什么", "哪里", "哪儿", "请问", "一下", "这个", "那个", "谁", "为什么", "没有"))  # fmt: skip
#: Where a word found counts most: the question itself, then the keywords, then the answer's text.
WEIGHTS = (("title", 3), ("keywords", 2), ("answer", 1))


class KnowledgeInvalid(InvalidValue):
    """Fields the editor must correct: field name → message id (English; the desk translates)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class AnswerNotFound(LookupError):
    pass


# -- segmentation

_lock = threading.Lock()
#: jieba's cutter once its dictionary is loaded (a one-element list: set once, read without the lock after).
_loaded: list[Callable[[str], Any]] = []


def _segmenter() -> Callable[[str], Any]:
    """jieba's search-mode cutter, its dictionary loaded on first use (on the calling thread)."""
    with _lock:
        if not _loaded:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _loaded.append(jieba.cut_for_search)
        return _loaded[0]


def segmenter_loaded() -> bool:
    """Whether jieba's dictionary is in memory (the tests check the desk starts without it)."""
    return bool(_loaded)


def words(text: str) -> list[str]:
    """The words of a query worth looking for, in order, without stop words and punctuation."""
    seen: list[str] = []
    for token in _segmenter()(text.lower()):
        word = token.strip()
        if word and word not in STOPWORDS and any(ch.isalnum() for ch in word) and word not in seen:
            seen.append(word)
    return seen


# -- views


@dataclass(frozen=True)
class Entry:
    id: int
    title: str
    answer: str
    category_id: int | None
    category: str
    keywords: str
    active: bool
    reviewed: bool
    reviewed_by: str
    reviewed_at: datetime | None
    usage_count: int
    updated_at: datetime
    updated_by: str
    #: The words of the query it matched (empty when listed without a query).
    matched: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "answer": self.answer, "category": self.category, "keywords": self.keywords,
            "reviewed": self.reviewed, "usage_count": self.usage_count, "matched": list(self.matched),
        }  # fmt: skip


def _entries(session: Session, answers: list[KnowledgeAnswer], matched: dict[int, tuple[str, ...]] | None = None) -> list[Entry]:
    categories = {c.id: c.name_zh for c in session.scalars(select(Category).where(Category.id.in_({a.category_id for a in answers if a.category_id})))}
    reviewers = {u.id: u.username for u in session.scalars(select(User).where(User.id.in_({a.reviewed_by_user_id for a in answers if a.reviewed_by_user_id})))}
    return [
        Entry(
            a.id,
            a.title,
            a.answer,
            a.category_id,
            categories.get(a.category_id or 0, ""),
            a.keywords,
            a.active,
            a.reviewed_at is not None,
            reviewers.get(a.reviewed_by_user_id or 0, ""),
            a.reviewed_at,
            a.usage_count,
            a.updated_at,
            a.updated_by,
            (matched or {}).get(a.id, ()),
        )
        for a in answers
    ]


def search(session: Session, query: str, *, include_inactive: bool = False, limit: int = MAX_RESULTS) -> list[Entry]:
    """Answers for the caller's question, best first (then reviewed first, then most used);
    without a query, every answer, most used first. InvalidValue for a query too long."""
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise InvalidValue(f"q: at most {MAX_QUERY} characters")
    statement = select(KnowledgeAnswer).order_by(KnowledgeAnswer.usage_count.desc(), KnowledgeAnswer.id)
    if not include_inactive:
        statement = statement.where(KnowledgeAnswer.active.is_(True))
    answers = list(session.scalars(statement))
    if not query:
        return _entries(session, answers[:limit] if limit else answers)
    wanted = words(query)
    scored: list[tuple[int, bool, int, KnowledgeAnswer]] = []
    matched: dict[int, tuple[str, ...]] = {}
    for a in answers:
        texts = {"title": a.title.lower(), "keywords": a.keywords.lower(), "answer": a.answer.lower()}
        found = tuple(w for w in wanted if any(w in t for t in texts.values()))
        if not found:
            continue
        score = sum(weight for w in found for name, weight in WEIGHTS if w in texts[name])
        scored.append((score, a.reviewed_at is not None, a.usage_count, a))
        matched[a.id] = found
    scored.sort(key=lambda item: (-item[0], not item[1], -item[2], item[3].id))
    return _entries(session, [item[3] for item in scored[:limit]], matched)


def get(session: Session, answer_id: int) -> Entry:
    a = session.get(KnowledgeAnswer, answer_id)
    if a is None:
        raise AnswerNotFound(f"no answer {answer_id}")
    return _entries(session, [a])[0]


# -- writing and reviewing


@dataclass(frozen=True)
class AnswerForm:
    """What the editor typed, as typed: the desk re-shows it when a field is wrong."""

    title: str = ""
    answer: str = ""
    category: str = ""
    keywords: str = ""
    active: str = "1"

    FIELDS = ("title", "answer", "category", "keywords", "active")

    @classmethod
    def from_fields(cls, get: Callable[[str], str]) -> AnswerForm:
        return cls(**{name: get(name) for name in cls.FIELDS})

    @classmethod
    def of(cls, e: Entry) -> AnswerForm:
        return cls(e.title, e.answer, str(e.category_id or ""), e.keywords, "1" if e.active else "")


def _require(who: SignedIn, roles: frozenset[Role], what: str) -> None:
    if not who.roles & roles:
        raise desk.Forbidden(f"your role may not {what} an answer")


def save(session: Session, who: SignedIn, form: AnswerForm, *, answer_id: int | None = None, address: str, now: datetime | None = None) -> KnowledgeAnswer:
    """A new answer, or an edit of one (which clears its review). KnowledgeInvalid naming every
    wrong field at once."""
    _require(who, EDITORS, "write")
    errors: dict[str, str] = {}
    if not form.title.strip():
        errors["title"] = "Write the question as a caller would ask it."
    if not form.answer.strip():
        errors["answer"] = "Write the answer to read out to the caller."
    for name, limit in LIMITS.items():
        if len(getattr(form, name).strip()) > limit:
            errors[name] = "Too long: shorten this field."
    category_id: int | None = None
    if form.category.strip():
        category_id = int(form.category) if form.category.strip().isdigit() else None
        found = session.get(Category, category_id) if category_id is not None else None
        if found is None:
            errors["category"] = "Choose a category from the list."
    if errors:
        raise KnowledgeInvalid(errors)
    now = now or utcnow()
    if answer_id is None:
        a = KnowledgeAnswer(usage_count=0)
        session.add(a)
    else:
        existing = session.get(KnowledgeAnswer, answer_id)
        if existing is None:
            raise AnswerNotFound(f"no answer {answer_id}")
        a = existing
    changed = (a.title, a.answer) != (form.title.strip(), form.answer.strip())
    a.title, a.answer, a.category_id, a.keywords = form.title.strip(), form.answer.strip(), category_id, form.keywords.strip()
    a.active = form.active not in ("", "0")
    a.updated_at, a.updated_by = now, who.username
    if changed or answer_id is None:
        a.reviewed_at, a.reviewed_by_user_id = None, None
    session.flush()
    audit.record(
        session, "knowledge_created" if answer_id is None else "knowledge_edited", user_id=who.user_id, username=who.username,
        target=f"knowledge:{a.id}", address=address, detail={"title": a.title[:100], "active": a.active, "review_cleared": changed and answer_id is not None},
    )  # fmt: skip
    return a


def review(session: Session, who: SignedIn, answer_id: int, *, address: str, now: datetime | None = None) -> KnowledgeAnswer:
    """A supervisor vouches for the answer as it reads now."""
    _require(who, REVIEWERS, "review")
    a = session.get(KnowledgeAnswer, answer_id)
    if a is None:
        raise AnswerNotFound(f"no answer {answer_id}")
    a.reviewed_at, a.reviewed_by_user_id = now or utcnow(), who.user_id
    audit.record(session, "knowledge_reviewed", user_id=who.user_id, username=who.username, target=f"knowledge:{a.id}", address=address, detail={"title": a.title[:100]})
    return a


# -- using an answer


def use(session: Session, policy: TicketPolicy, who: SignedIn, answer_id: int, *, number: str = "", address: str) -> Ticket | None:
    """The operator used the answer: counted; with a ticket number, the consultation is closed
    as answered directly (the workflow's answer move, `desk.move`, with the answer as its text).
    Raises AnswerNotFound for a missing or retired answer, and the move's own errors."""
    a = session.get(KnowledgeAnswer, answer_id)
    if a is None or not a.active:
        raise AnswerNotFound(f"no answer {answer_id}")
    ticket: Ticket | None = None
    if number:
        ticket = desk.move(session, policy, who, number, Action.ANSWER, address=address, reason=a.answer)
    elif not who.roles & desk.CREATORS:
        raise desk.Forbidden("your role may not use an answer")
    a.usage_count += 1
    detail = {"ticket": ticket.number if ticket else None, "reviewed": a.reviewed_at is not None}
    audit.record(session, "knowledge_used", user_id=who.user_id, username=who.username, target=f"knowledge:{a.id}", address=address, detail=detail)
    return ticket
