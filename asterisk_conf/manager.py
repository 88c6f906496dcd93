"""`hotline asterisk-config check-manager [FILE]`: does Asterisk's manager.conf give the
service's AMI user the classes it needs (`hotline.ami.permissions`)?

For an Asterisk whose manager.conf was written by hand, or changed since the render: the
file is read the way Asterisk reads it for this purpose — `#include`/`#tryinclude` followed
(relative to the file's directory, as Asterisk resolves them against its config directory),
additive `[name](+)` sections merged, the last `read`/`write` line of the user winning.
"""

from __future__ import annotations

import re
from pathlib import Path

from asterisk_conf.check import ConfSyntaxError, parse
from hotline.ami import permissions

_INCLUDE = re.compile(r'^\s*#(try)?include\s+"?([^"]+?)"?\s*$')
_MAX_DEPTH = 8


class ManagerConfError(ValueError):
    """manager.conf cannot be read, or has no such user."""


def expand(path: Path, depth: int = 0) -> str:
    """The file's text with its #include lines replaced by the included files."""
    if depth > _MAX_DEPTH:
        raise ManagerConfError(f"{path}: #include nested deeper than {_MAX_DEPTH}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManagerConfError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = []
    for line in text.split("\n"):
        match = _INCLUDE.match(line)
        if match:
            included = Path(match.group(2))
            included = included if included.is_absolute() else path.parent / included
            if match.group(1) and not included.exists():
                continue  # #tryinclude of a missing file: Asterisk goes on
            lines.append(expand(included, depth + 1))
        elif line.lstrip().startswith("#"):
            continue  # #exec and friends: nothing a user's classes depend on here
        else:
            lines.append(line)
    return "\n".join(lines)


def user_classes(path: Path, username: str) -> tuple[frozenset[str], frozenset[str]]:
    """The (read, write) classes manager.conf gives `username`."""
    try:
        sections = parse(expand(path), str(path))
    except ConfSyntaxError as exc:
        raise ManagerConfError(str(exc)) from None
    entries = [entry for section in sections if section.name == username for entry in section.entries]
    if not entries:
        raise ManagerConfError(f"{path} defines no AMI user [{username}] (ami.username)")
    values = {entry.key.lower(): entry.value for entry in entries}  # the last line wins
    return permissions.parse_classes(values.get("read", "")), permissions.parse_classes(values.get("write", ""))


def check_manager(path: Path, username: str, *, listen_in: bool = False) -> list[str]:
    """One line per class the user lacks for what the service sends with this configuration
    (`listen_in`: desk.listen_in, which needs `originate`); [] when it has all it needs."""
    read, write = user_classes(path, username)
    return permissions.missing(read, write, permissions.used_actions(listen_in=listen_in))
