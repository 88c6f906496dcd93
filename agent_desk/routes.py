"""Every desk route and the roles that may use it: the one table the app registers its routes
from and the tests generate their allowed/refused cases from."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.storage.models import Role

EVERYONE = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
CREATORS = frozenset({Role.OPERATOR, Role.SUPERVISOR})
#: Roles with at least one workflow move (hotline.tickets.desk.ROLE_ACTIONS; an admin has none).
WORKERS = EVERYONE - ADMIN
#: Who answers for the centre's figures.
REPORTERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR})


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    #: Klein (werkzeug) pattern, relative to the desk's mount point.
    path: str
    #: None: reachable without signing in.
    roles: frozenset[Role] | None

    @property
    def changes_state(self) -> bool:
        """POST routes change something: each needs the CSRF token."""
        return self.method == "POST"


ROUTES: tuple[Route, ...] = (
    Route("home", "GET", "/", EVERYONE),
    Route("static", "GET", "/static/<name>", None),
    Route("login_form", "GET", "/login", None),
    Route("login", "POST", "/login", None),
    Route("logout", "POST", "/logout", EVERYONE),
    Route("password_form", "GET", "/password", EVERYONE),
    Route("password", "POST", "/password", EVERYONE),
    Route("language", "POST", "/language", EVERYONE),
    Route("tickets", "GET", "/tickets", EVERYONE),
    Route("new_ticket", "GET", "/tickets/new", CREATORS),
    Route("create_ticket", "POST", "/tickets/new", CREATORS),
    Route("ticket", "GET", "/tickets/<number>", EVERYONE),
    # Which workflow moves a role may make is the ticket service's table (hotline.tickets.desk.ROLE_ACTIONS).
    Route("ticket_action", "POST", "/tickets/<number>/<action>", WORKERS),
    Route("users", "GET", "/admin/users", ADMIN),
    Route("create_user", "POST", "/admin/users", ADMIN),
    Route("update_user", "POST", "/admin/users/<int:user_id>", ADMIN),
    Route("audit", "GET", "/admin/audit", ADMIN),
    # Intake (受理): category search, likely duplicates (重复件), adding the caller to an open case,
    # finding a case on the phone, and who reported a case (the ticket page asks for it).
    Route("intake_categories", "GET", "/intake/categories", CREATORS),
    Route("intake_duplicates", "GET", "/intake/duplicates", CREATORS),
    Route("intake_link", "POST", "/intake/link", CREATORS),
    Route("intake_find", "GET", "/intake/find", CREATORS | {Role.CALLBACK}),
    Route("ticket_reporters", "GET", "/tickets/<number>/reporters", EVERYONE),
    # Open311 API keys (agent_desk/api_keys.py)
    Route("api_keys", "GET", "/admin/api-keys", ADMIN),
    Route("create_api_key", "POST", "/admin/api-keys", ADMIN),
    Route("revoke_api_key", "POST", "/admin/api-keys/revoke", ADMIN),
    # Oversight (issue 13 point 3): the overdue/due-soon board, 督办, departments' extension requests and their decisions, reworked cases, the printable daily summary.
    Route("oversight_board", "GET", "/oversight", frozenset({Role.SUPERVISOR, Role.DEPARTMENT})),
    Route("oversight_urge", "POST", "/oversight/cases/<number>/urge", frozenset({Role.SUPERVISOR})),
    Route("oversight_request_extension", "POST", "/oversight/cases/<number>/extension", frozenset({Role.DEPARTMENT})),
    Route("oversight_decide_extension", "POST", "/oversight/cases/<number>/extension/decision", frozenset({Role.SUPERVISOR})),
    Route("oversight_reworked", "GET", "/oversight/reworked", frozenset({Role.SUPERVISOR, Role.DEPARTMENT})),
    Route("oversight_daily", "GET", "/oversight/daily", frozenset({Role.SUPERVISOR})),
    # -- media: recordings and transcripts on the ticket page, photos with a department's report (处置反馈)
    Route("recording", "GET", "/tickets/<number>/recordings/<name>", EVERYONE),
    Route("photo", "GET", "/tickets/<number>/photos/<name>", EVERYONE),
    Route("report_handled", "POST", "/tickets/<number>/handle/report", frozenset({Role.DEPARTMENT})),
    # Reports and the wallboard (agent_desk/reports.py, agent_desk/wallboard.py).
    Route("reports", "GET", "/reports", REPORTERS),
    Route("report_trend", "GET", "/reports/trend", REPORTERS),
    Route("report_export", "GET", "/reports/export", REPORTERS),
    Route("wallboard", "GET", "/wallboard", REPORTERS),
    Route("wallboard_data", "GET", "/wallboard/data", REPORTERS),
    # Administration (agent_desk/admin_pages.py): departments, categories, the working calendar.
    Route("admin_departments", "GET", "/admin/departments", ADMIN),
    Route("admin_save_department", "POST", "/admin/departments", ADMIN),
    Route("admin_department_active", "POST", "/admin/departments/active", ADMIN),
    Route("admin_categories", "GET", "/admin/categories", ADMIN),
    Route("admin_save_category", "POST", "/admin/categories", ADMIN),
    Route("admin_category_active", "POST", "/admin/categories/active", ADMIN),
    Route("admin_calendar", "GET", "/admin/calendar", ADMIN),
    Route("admin_save_calendar", "POST", "/admin/calendar", ADMIN),
    Route("admin_callbacks", "GET", "/admin/callbacks", ADMIN),
    Route("admin_save_callbacks", "POST", "/admin/callbacks", ADMIN),
    Route("admin_prompts", "GET", "/admin/prompts", ADMIN),
    Route("admin_upload_prompt", "POST", "/admin/prompts", ADMIN),
    Route("admin_prompt_sound", "GET", "/admin/prompts/sound", ADMIN),
    Route("admin_queues", "GET", "/admin/queues", ADMIN),
    Route("admin_save_queue", "POST", "/admin/queues", ADMIN),
    # Live: the browser's event stream (every page opens it), the operator console (agent_desk/live.py).
    Route("events", "GET", "/events", EVERYONE),
    Route("console", "GET", "/console", CREATORS),
    Route("console_state", "POST", "/console", CREATORS),
    # Knowledge base (agent_desk/knowledge.py): read and searched by operators, written by supervisors and admins, reviewed by supervisors.
    Route("knowledge", "GET", "/knowledge", CREATORS | ADMIN),
    Route("knowledge_search", "GET", "/knowledge/search", CREATORS | ADMIN),
    Route("knowledge_form", "GET", "/knowledge/edit", REPORTERS),
    Route("knowledge_save", "POST", "/knowledge/edit", REPORTERS),
    Route("knowledge_review", "POST", "/knowledge/review", SUPERVISORS),
    Route("knowledge_use", "POST", "/knowledge/use", CREATORS),
    # Wallboard seat control (agent_desk/wallboard.py): a supervisor or admin pauses, unpauses or logs off an operator's seat, or listens in (ChanSpy; desk.listen_in).
    Route("wallboard_pause", "POST", "/wallboard/seats/pause", REPORTERS),
    Route("wallboard_unpause", "POST", "/wallboard/seats/unpause", REPORTERS),
    Route("wallboard_logoff", "POST", "/wallboard/seats/logoff", REPORTERS),
    Route("wallboard_listen", "POST", "/wallboard/seats/listen", REPORTERS),
)
