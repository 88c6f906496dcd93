"""The category and department pickers of every desk page that has them (ticket list, case,
intake form, oversight board, reworked cases, knowledge-base form),
rendered once per language and kept.

Why: 202 categories as `<option>`s, read and rendered again for every list, case and
intake page, were a large part of those pages' cost (bench/RESULTS.md, desk_operators.py).
Now a page reads the choices again (in its own read, no extra round trip) only when the
kept ones are older than `REFRESH_SECONDS`, and the HTML is rendered again only when they
changed. A change on this process's admin pages drops them at once; one made elsewhere
(another desk process, `hotline taxonomy` on the command line) shows within
`REFRESH_SECONDS`, as a setting changed from the desk reaches every role
(`hotline.settings.POLL_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

from hotline.tickets.desk import Choice

#: How old the kept choices may be before a page reads them again.
REFRESH_SECONDS = 5.0


class Picker:
    """One `<select>`'s options in one language, as HTML; `picker(selected)` marks one."""

    def __init__(self, options: list[tuple[int, str]]) -> None:
        self._html = "".join(f'<option value="{ident}">{escape(label)}</option>' for ident, label in options)

    def __call__(self, selected: int | str | None = None) -> Markup:
        text = str(selected) if selected is not None else ""
        if not text.isdigit():
            return Markup(self._html)  # built from escaped labels
        opening = f'<option value="{int(text)}">'
        return Markup(self._html.replace(opening, f'<option value="{int(text)}" selected>', 1))


@dataclass(frozen=True)
class Pickers:
    """The pickers of one language."""

    categories: Picker
    departments: Picker


def _label(choice: Choice, zh: bool, *, code: bool) -> str:
    name = choice.name_zh if zh else (choice.name_en or choice.name_zh)
    return f"{choice.code} {name}" if code else name


class PickerCache:
    """The choices as last read, and their pickers per language. Used on the reactor thread."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._choices: tuple[list[Choice], list[Choice]] | None = None
        self._read_at = float("-inf")
        self._rendered: dict[str, Pickers] = {}

    def due(self) -> bool:
        """Whether the page about to read should read the choices too."""
        return self._choices is None or self._clock() - self._read_at >= REFRESH_SECONDS

    def update(self, choices: tuple[list[Choice], list[Choice]]) -> None:
        """The choices a page just read; the HTML is rendered again only if they changed."""
        self._read_at = self._clock()
        if choices != self._choices:
            self._choices = choices
            self._rendered = {}

    def drop(self) -> None:
        """The taxonomy changed here: the next page reads the choices again."""
        self._read_at = float("-inf")

    def get(self, language: str) -> Pickers:
        """The pickers in `language` ('zh_Hans' or 'en'); `update` must have run once."""
        if self._choices is None:
            raise RuntimeError("no choices read yet")
        pickers = self._rendered.get(language)
        if pickers is None:
            zh = language == "zh_Hans"
            categories, departments = self._choices
            pickers = Pickers(
                Picker([(c.id, _label(c, zh, code=True)) for c in categories]),
                Picker([(d.id, _label(d, zh, code=False)) for d in departments]),
            )
            self._rendered[language] = pickers
        return pickers
