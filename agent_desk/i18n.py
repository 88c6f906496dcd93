"""The desk's languages: Simplified Chinese first, English switchable per user.

Message ids are English; each other language is a gettext catalogue (`locales/LANG/LC_MESSAGES/
messages.po`) that Babel compiles in memory when the desk starts, so a fresh clone installed
with `pip install -e .` needs no build step and no compiled files are committed.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
#: Language code → its own name, in the order the switcher offers them.
LANGUAGES = {"zh_Hans": "简体中文", "en": "English"}
DEFAULT = "zh_Hans"


def N_(message: str) -> str:
    """Marks a message for extraction (`pybabel extract -k N_`); the template translates it."""
    return message


@functools.cache
def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue for `language` (an unknown one gets the default's), compiled
    once per process; English (the message ids) needs none."""
    language = language if language in LANGUAGES else DEFAULT
    po = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=language.replace("_Hans", ""))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def untranslated(language: str) -> list[str]:
    """Message ids with no translation in `language`'s catalogue (the tests require none)."""
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    return [str(m.id) for m in catalog if m.id and not m.string]


#: Message ids the templates look up by value (roles, sources, urgencies, call results, workflow
#: actions) or that the core's services raise with fixed text: listed here so extraction finds them.
LOOKED_UP = (
    N_("operator"), N_("supervisor"), N_("callback"), N_("department"), N_("admin"),
    N_("hotline"), N_("voicemail"), N_("web"), N_("inspector"),
    N_("normal"), N_("urgent"),
    N_("in_progress"), N_("queued"), N_("answered"), N_("abandoned"), N_("ivr_abandoned"), N_("callback_requested"),
    N_("self_service"), N_("failed"), N_("refused"), N_("timed_out"), N_("service_down"),
    N_("action:register"), N_("action:reject"), N_("action:answer"), N_("action:dispatch"), N_("action:return"), N_("action:extend"),
    N_("action:handle"), N_("action:rework"), N_("action:verify"), N_("action:close"), N_("action:callback"), N_("action:reopen"),
    N_("action:note"), N_("action:request_extension"),
    N_("current password is wrong"), N_("the new password must differ from the current one"),
    N_("password too short: at least 10 characters"), N_("password must mix letters with digits or symbols"),
    N_("a user needs at least one role"), N_("department staff need a department"), N_("describe the problem"),
    N_("you cannot remove your own admin role or deactivate yourself"),
)  # fmt: skip
