"""How the core finds its features: Python entry points, never an import by name.

Groups (declared in setup.cfg `[options.entry_points]`):

- ``hotline.commands``: ``name = module:register``; `register(subparsers)` adds subcommands
  and returns ``{command: handler}`` (hotline.cli).
- ``hotline.flows``: ``dialplan name = module:flow``; the flow Asterisk reaches as
  ``agi://host/NAME``.
- ``hotline.call_handlers``: ``name = module:factory``; builds the FastAGI call handler of
  the ivr role (hotline.service), given the flows.
- ``hotline.web``: ``name = module:mount``; `mount(node)` (the role's `hotline.service.Service`) returns the
  resource the desk role serves at ``/name/``.
- ``hotline.prompt_checks``: ``name = module:check``; `check(config, directory)` returns the
  zero-key lines (`hotline.prompts.ZeroKeyLine`) of `hotline prompts check`, for the desk.
- ``hotline.asterisk_files``: ``name = module:render``; `render(config, out_dir)` writes the
  Asterisk files again and returns their paths (raises ValueError), for the desk.

Why the checkout's own setup.cfg is read first: an editable install records the entry points
once, at `pip install -e` time, so a checkout whose setup.cfg gained a group would otherwise
run with the stale list until someone reinstalls. Other installed distributions (a city's own
flows) are always read from their metadata."""

from __future__ import annotations

import configparser
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

DISTRIBUTION = "hotline12319"
COMMANDS = "hotline.commands"
FLOWS = "hotline.flows"
CALL_HANDLERS = "hotline.call_handlers"
WEB = "hotline.web"
PROMPT_CHECKS = "hotline.prompt_checks"
ASTERISK_FILES = "hotline.asterisk_files"

_CHECKOUT_SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


class PluginError(Exception):
    """An entry point names something that cannot be loaded."""


@cache
def _checkout_entry_points() -> tuple[metadata.EntryPoint, ...] | None:
    """The entry points of this checkout's setup.cfg, or None when installed from a wheel."""
    if not _CHECKOUT_SETUP_CFG.is_file():
        return None
    parser = configparser.ConfigParser()
    parser.read(_CHECKOUT_SETUP_CFG, encoding="utf-8")
    if parser.get("metadata", "name", fallback="") != DISTRIBUTION or not parser.has_section("options.entry_points"):
        return None
    found = []
    for group, body in parser.items("options.entry_points", raw=True):
        for line in body.splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith(("#", ";")):
                found.append(metadata.EntryPoint(name.strip(), value.strip(), group))
    return tuple(found)


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """Every entry point of `group`: this checkout's, then other distributions' (by name)."""
    own = _checkout_entry_points()
    found: dict[str, metadata.EntryPoint] = {}
    if own is not None:
        found.update((ep.name, ep) for ep in own if ep.group == group)
    for dist in metadata.distributions():
        if own is not None and (dist.metadata["Name"] or "").lower() == DISTRIBUTION:
            continue
        for ep in dist.entry_points:
            if ep.group == group:
                found.setdefault(ep.name, ep)
    return sorted(found.values(), key=lambda ep: ep.name)


def load(group: str) -> dict[str, Any]:
    """`{name: loaded object}` for a group; a broken entry point is a PluginError naming it."""
    return {ep.name: _load(ep) for ep in entry_points(group)}


def _load(ep: metadata.EntryPoint) -> Any:
    try:
        return ep.load()
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"entry point {ep.group}:{ep.name} = {ep.value} cannot be loaded ({exc})") from exc


def names(group: str) -> Iterable[str]:
    return [ep.name for ep in entry_points(group)]


def call_handler_factory() -> Any:
    """The one installed `hotline.call_handlers` factory: what runs an AGI call, for the ivr
    role and the classic AGI script alike. None installed, or several, is a PluginError."""
    handlers = load(CALL_HANDLERS)
    if not handlers:
        raise PluginError(f"no call handler is installed (entry point group {CALL_HANDLERS}; pip install the hotline12319 package with its ivr)")
    if len(handlers) > 1:
        raise PluginError(f"several call handlers are installed ({', '.join(sorted(handlers))}); keep one")
    (factory,) = handlers.values()
    return factory
