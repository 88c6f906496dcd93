"""The core's refusals said in the user's language.

The core raises `WorkflowError`s with a `code` and parameters (hotline/tickets/workflow.py) and
knows nothing of the desk; here each code has its message in the desk's catalogue, and the
parameters that are names of things (an action, a status, a field) are translated too. A
refusal without a code still reaches the user, in a translated frame around the core's text.
"""

from __future__ import annotations

from agent_desk import i18n
from agent_desk.i18n import N_
from hotline.storage.models import TicketStatus
from hotline.tickets.workflow import STATUS_LABELS, WorkflowError

MESSAGES = {
    "illegal_transition": N_("Ticket %(number)s is %(status)s now, so “%(action)s” is not possible; it is possible when the ticket is %(allowed)s."),
    "missing_field": N_("Ticket %(number)s: “%(action)s” needs %(field)s."),
    "stale": N_("Ticket %(number)s was changed by someone else meanwhile. Nothing was saved: look at the ticket as it is now and try again."),
    "unknown_action": N_("Ticket %(number)s: there is no action “%(action)s”."),
    "department_inactive": N_("Ticket %(number)s: the department %(department)s no longer takes cases; choose another."),
    "bad_satisfaction": N_("Ticket %(number)s: choose a satisfaction level from the list (%(levels)s)."),
    "bad_id:category": N_("Choose a category from the list."),
    "bad_id:department": N_("Choose a department from the list."),
    "no_such:category": N_("The chosen category does not exist any more; choose another from the list."),
    "no_such:department": N_("The chosen department does not exist any more; choose another from the list."),
    "bad_time_limit": N_("Ticket %(number)s: “%(value)s” is not a time limit; write for example “2 working days” or “4 hours”."),
    "no_open_round": N_("Ticket %(number)s is not dispatched to a department just now."),
    "forbidden_action": N_("Your role may not do “%(action)s” on a ticket."),
}
FALLBACK = N_("Nothing was changed: %(reason)s")
#: What a move may lack (`MissingField.field`), in words.
THINGS = {
    "category_id": N_("a category"),
    "department_id": N_("a department"),
    "reason": N_("a note or reason"),
    "extra": N_("how much more time"),
    "satisfaction": N_("a satisfaction level"),
}


def explain(error: WorkflowError, language: str) -> str:
    """`error` as a sentence in `language` (a code of i18n.LANGUAGES)."""
    _ = i18n.catalogue(language).gettext
    zh = language == "zh_Hans"
    template = MESSAGES.get(f"{error.code}:{error.params.get('what', '')}") or MESSAGES.get(error.code)
    if template is None:
        return _(FALLBACK) % {"reason": str(error)}
    params = {name: value for name, value in error.params.items() if not name.endswith("_en")}
    if not zh:
        params |= {name[:-3]: value for name, value in error.params.items() if name.endswith("_en")}
    if "action" in params:
        label = _("action:" + params["action"])
        params["action"] = params["action"] if label.startswith("action:") else label
    if "status" in params:
        params["status"] = _status(params["status"], zh)
    if "allowed" in params:
        params["allowed"] = ("、" if zh else ", ").join(_status(s, zh) for s in params["allowed"].split(",") if s)
    if params.get("field") in THINGS:
        params["field"] = _(THINGS[params["field"]])
    try:
        return _(template) % params
    except (KeyError, ValueError, TypeError):
        return _(FALLBACK) % {"reason": str(error)}


def _status(value: str, zh: bool) -> str:
    try:
        pair = STATUS_LABELS[TicketStatus(value)]
    except ValueError:
        return value
    return pair[0] if zh else pair[1]
