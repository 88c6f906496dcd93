"""The ticket workflow as a transition table: which action may move a ticket from which status
to which, and what each action needs. Pure data and checks, no I/O, so it can be read by a
person, tested exhaustively and rendered into the docs.

受理 received → 立案 registered (or 不予立案 rejected, or 直接答复 answered) → 派遣 dispatched →
处置 handled → 核查 verified → 结案 closed; 回访 callback after closure; an unsatisfied
callback reopens the ticket, which is dispatched again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hotline.storage.models import TicketStatus as S


class Action(enum.StrEnum):
    RECEIVE = "receive"  # 受理: the ticket is created
    REGISTER = "register"  # 立案
    REJECT = "reject"  # 不予立案 / 注销
    ANSWER = "answer"  # 直接答复: a consultation answered without dispatch
    DISPATCH = "dispatch"  # 派遣
    RETURN = "return"  # 退回: the department says it is not theirs
    EXTEND = "extend"  # 延期: a longer deadline is approved
    HANDLE = "handle"  # 处置: the department reports it done
    REWORK = "rework"  # 返工: verification failed, back to the department
    VERIFY = "verify"  # 核查 passed
    CLOSE = "close"  # 结案
    CALLBACK = "callback"  # 回访 result recorded
    REOPEN = "reopen"  # unsatisfied callback or complaint: back into the process
    NOTE = "note"  # a remark; changes nothing else


@dataclass(frozen=True)
class Rule:
    action: Action
    sources: frozenset[S]
    #: None: the status does not change.
    target: S | None
    #: Fields the caller must supply, as named in `tickets.apply`'s keyword arguments.
    needs: tuple[str, ...] = ()
    label_zh: str = ""
    label_en: str = ""

    def target_from(self, status: S) -> S:
        return status if self.target is None else self.target


_ANY = frozenset(S)
_OPEN_DISPATCH = frozenset({S.DISPATCHED})

RULES: dict[Action, Rule] = {
    r.action: r
    for r in (
        Rule(Action.REGISTER, frozenset({S.RECEIVED}), S.REGISTERED, ("category_id",), "立案", "Register"),
        Rule(Action.REJECT, frozenset({S.RECEIVED}), S.REJECTED, ("reason",), "不予立案", "Reject"),
        Rule(Action.ANSWER, frozenset({S.RECEIVED}), S.ANSWERED, ("reason",), "直接答复", "Answer directly"),
        Rule(Action.DISPATCH, frozenset({S.REGISTERED}), S.DISPATCHED, ("department_id",), "派遣", "Dispatch"),
        Rule(Action.RETURN, _OPEN_DISPATCH, S.REGISTERED, ("reason",), "退回", "Return"),
        Rule(Action.EXTEND, _OPEN_DISPATCH, None, ("extra", "reason"), "延期", "Extend deadline"),
        Rule(Action.HANDLE, _OPEN_DISPATCH, S.HANDLED, ("reason",), "处置反馈", "Report handled"),
        Rule(Action.REWORK, frozenset({S.HANDLED}), S.DISPATCHED, ("reason",), "返工", "Rework"),
        Rule(Action.VERIFY, frozenset({S.HANDLED}), S.VERIFIED, (), "核查通过", "Verify"),
        Rule(Action.CLOSE, frozenset({S.VERIFIED}), S.CLOSED, (), "结案", "Close"),
        Rule(Action.CALLBACK, frozenset({S.CLOSED, S.ANSWERED}), None, ("satisfaction",), "回访", "Record callback"),
        Rule(Action.REOPEN, frozenset({S.CLOSED, S.ANSWERED}), S.REGISTERED, ("reason",), "重新派遣", "Reopen"),
        Rule(Action.NOTE, _ANY, None, ("reason",), "备注", "Note"),
    )
}

#: Statuses a ticket leaves the process in; KPIs count these as finished (办结).
FINISHED = frozenset({S.CLOSED, S.REJECTED, S.ANSWERED})


class WorkflowError(Exception):
    """A requested move is not allowed; nothing was changed.

    str() is the English text, for logs and the command line. For people, `code` names the
    message and `params` fill its blanks: the desk looks the code up in its catalogue and says it
    in the user's language (a parameter `x_en` is `x` in English). No code: only the text."""

    #: A subclass's code when the raise gives none.
    default_code = ""

    def __init__(self, text: str, *, code: str = "", **params: object) -> None:
        super().__init__(text)
        self.code = code or self.default_code
        self.params = {name: str(value) for name, value in params.items()}


class IllegalTransition(WorkflowError):
    def __init__(self, number: str, action: Action, status: S) -> None:
        rule = RULES[action]
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        super().__init__(
            f"ticket {number}: cannot {action.value} ({rule.label_zh}) a ticket that is {status.value} ({STATUS_LABELS[status][0]}); {action.value} is allowed from: {allowed}",
            code="illegal_transition", number=number, action=action.value, status=status.value, allowed=",".join(sorted(s.value for s in rule.sources)),
        )  # fmt: skip
        self.number, self.action, self.status = number, action, status


class MissingField(WorkflowError):
    def __init__(self, number: str, action: Action, field: str) -> None:
        super().__init__(f"ticket {number}: {action.value} ({RULES[action].label_zh}) needs {field}", code="missing_field", number=number, action=action.value, field=field)
        self.number, self.action, self.field = number, action, field


class InvalidValue(WorkflowError):
    """A supplied value is unusable (unknown department, unknown satisfaction level …)."""


class StaleTicket(WorkflowError):
    """Someone else changed the ticket since it was read; reload and try again."""

    default_code = "stale"


STATUS_LABELS: dict[S, tuple[str, str]] = {
    S.RECEIVED: ("受理", "received"),
    S.REGISTERED: ("立案", "registered"),
    S.REJECTED: ("不予立案", "rejected"),
    S.ANSWERED: ("直接答复", "answered"),
    S.DISPATCHED: ("已派遣", "dispatched"),
    S.HANDLED: ("已处置", "handled"),
    S.VERIFIED: ("已核查", "verified"),
    S.CLOSED: ("已结案", "closed"),
}


def check(number: str, status: S, action: Action, supplied: dict[str, object]) -> S:
    """The status after `action`, or the specific error that forbids it."""
    rule = RULES.get(action)
    if rule is None:
        raise WorkflowError(f"ticket {number}: unknown action {action!r}", code="unknown_action", number=number, action=str(action)[:32])
    if status not in rule.sources:
        raise IllegalTransition(number, action, status)
    for name in rule.needs:
        value = supplied.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise MissingField(number, action, name)
    return rule.target_from(status)


def allowed_actions(status: S) -> list[Action]:
    """What a desk may offer for a ticket in `status`."""
    return [a for a, r in RULES.items() if status in r.sources]
