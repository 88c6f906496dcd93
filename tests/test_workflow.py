"""The transition table itself, without a database."""

from __future__ import annotations

import pytest

from hotline.storage.models import TicketStatus as S
from hotline.tickets.workflow import FINISHED, RULES, Action, IllegalTransition, MissingField, allowed_actions, check

# The workflow of DESIGN.md and standards.md, written out independently of RULES:
# (action, from) -> to.
SPEC = {
    (Action.REGISTER, S.RECEIVED): S.REGISTERED,
    (Action.REJECT, S.RECEIVED): S.REJECTED,
    (Action.ANSWER, S.RECEIVED): S.ANSWERED,
    (Action.DISPATCH, S.REGISTERED): S.DISPATCHED,
    (Action.RETURN, S.DISPATCHED): S.REGISTERED,
    (Action.EXTEND, S.DISPATCHED): S.DISPATCHED,
    (Action.HANDLE, S.DISPATCHED): S.HANDLED,
    (Action.REWORK, S.HANDLED): S.DISPATCHED,
    (Action.VERIFY, S.HANDLED): S.VERIFIED,
    (Action.CLOSE, S.VERIFIED): S.CLOSED,
    (Action.CALLBACK, S.CLOSED): S.CLOSED,
    (Action.CALLBACK, S.ANSWERED): S.ANSWERED,
    (Action.REOPEN, S.CLOSED): S.REGISTERED,
    (Action.REOPEN, S.ANSWERED): S.REGISTERED,
    **{(Action.NOTE, s): s for s in S},
}
EVERYTHING = {"reason": "r", "category_id": 1, "department_id": 1, "extra": "1 working_days", "satisfaction": "满意"}


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.RECEIVE])
@pytest.mark.parametrize("status", list(S))
def test_every_pair_matches_the_spec(status, action):
    """Every (status, action) pair is allowed exactly when the written workflow says so."""
    expected = SPEC.get((action, status))
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            check("2611210001", status, action, EVERYTHING)
        assert info.value.status is status and info.value.action is action
        assert "2611210001" in str(info.value) and action.value in str(info.value)
    else:
        assert check("2611210001", status, action, EVERYTHING) is expected


def test_illegal_move_message_names_what_is_allowed():
    """The error says what was attempted, on what, and from where it would be allowed."""
    with pytest.raises(IllegalTransition, match=r"cannot close \(结案\) a ticket that is dispatched \(已派遣\); close is allowed from: verified"):
        check("2611210001", S.DISPATCHED, Action.CLOSE, {})


@pytest.mark.parametrize("action", [a for a, r in RULES.items() if r.needs])
def test_required_fields_are_enforced(action):
    """Each action that needs input refuses to run without it, naming the field."""
    rule = RULES[action]
    status = next(iter(rule.sources))
    for missing in rule.needs:
        supplied = {k: v for k, v in EVERYTHING.items() if k != missing}
        with pytest.raises(MissingField, match=missing):
            check("2611210001", status, action, supplied)
    with pytest.raises(MissingField):
        check("2611210001", status, action, {**EVERYTHING, rule.needs[0]: "   "})


def test_finished_statuses_only_leave_by_reopen_callback_or_note():
    """Closed, rejected and answered tickets can only be reopened, called back or annotated."""
    for status in FINISHED:
        assert set(allowed_actions(status)) <= {Action.REOPEN, Action.CALLBACK, Action.NOTE}
    assert allowed_actions(S.REJECTED) == [Action.NOTE]


def test_docs_table_matches_the_rules():
    """docs/workflow.md lists every action with the sources and target the code enforces."""
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "workflow.md").read_text(encoding="utf-8")
    for action, rule in RULES.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{action.value}` |")), None)
        assert row is not None, f"{action.value} missing from docs/workflow.md"
        cells = [c.strip() for c in row.strip("|").split("|")]
        sources = "any" if rule.sources == frozenset(S) else ", ".join(sorted(s.value for s in rule.sources))
        assert cells[2] == sources and cells[3] == (rule.target.value if rule.target else "(unchanged)")
