"""`hotline prompts check|synth DIR` and `hotline menu check [FILE]`.

Registered through the `hotline.commands` entry point (setup.cfg). Each handler loads the config itself and
turns expected failures into `CommandError` (one line, exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline import prompts
from hotline.business_hours import BusinessHours
from hotline.cli import CommandError, load_config
from hotline.config import Config
from hotline.dialplan import GENERAL_QUEUE


def register(subparsers: Any) -> dict[str, Any]:
    p = subparsers.add_parser("prompts", help="the IVR's prompt recordings")
    psub = p.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    p2 = psub.add_parser("check", help="list prompts with no sound file in DIR, and time the zero-key paths with the recordings (exit 1 if a file is missing or a path is over ivr.zero_key_seconds)")
    p2.add_argument("directory", metavar="DIR", help="the sounds directory (asterisk.sounds_dir): DIR/<lang>/<prompt>.wav")
    p2 = psub.add_parser("synth", help="make placeholder recordings with espeak-ng and sox (8 kHz mono WAV)")
    p2.add_argument("directory", metavar="DIR")
    p2.add_argument("--force", action="store_true", help="replace existing files too")
    p2.add_argument("--lang", action="append", choices=list(prompts.LANGUAGES), help="only this language (repeatable)")

    p = subparsers.add_parser("menu", help="the IVR menu")
    msub = p.add_subparsers(dest="menu_command", metavar="ACTION", required=True)
    p2 = msub.add_parser("check", help="validate a menu against the config (default: ivr.menu)")
    p2.add_argument("file", nargs="?", metavar="FILE", help="a menu TOML file or a shipped menu's name")
    return {"prompts": _prompts, "menu": _menu}


def _prompts(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if args.prompts_command == "check":
        return _check(directory, load_config(args))
    return _synth(directory, args.force, args.lang or list(prompts.LANGUAGES))


def _check(directory: Path, config: Config) -> int:
    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory")
    names = prompts.catalogue()
    missing = prompts.missing_sounds(directory, names)
    _report_long(directory, names)
    if not missing:
        print(f"all {len(names)} prompts present in {', '.join(prompts.LANGUAGES)} under {directory}")
    for lang, absent in missing.items():
        print(f"{lang}: {len(absent)} of {len(names)} missing")
        for name in absent:
            print(f"  {prompts.sound_file(directory, lang, name)}  ({names[name].text(lang)})")
    over = _report_zero_key(directory, config, names)
    return 1 if missing or over else 0


@dataclass(frozen=True)
class ZeroKeyPath:
    """The slowest way a kind of caller who presses nothing reaches a person (after hours:
    the beep of the message), timed with the recordings."""

    lang: str
    language_known: bool
    kind: str
    path: Any  # ivr.menu.SilentPath

    @property
    def seconds(self) -> float:
        return float(self.path.seconds)


#: The kinds of caller whose zero-key path is timed: (label, has an open ticket, queues open).
CALLER_KINDS = (("new caller", False, True), ("repeat caller", True, True), ("after hours", None, False))


def zero_key_paths(config: Config, menu: Any, catalogue: Mapping[str, prompts.Prompt]) -> list[ZeroKeyPath]:
    """For each language and kind of caller, the slowest zero-key path. The configuration's
    default language is heard with the language offer; the other one is the language of a
    number of its own (no offer). "after hours" only when the general queue ever closes."""
    from ivr.menu import Caller

    always_open = BusinessHours.parse(config.queue(GENERAL_QUEUE).hours).always
    found = []
    for lang in prompts.LANGUAGES:
        known = lang != config.service.language
        for kind, repeat, is_open in CALLER_KINDS:
            if not is_open and always_open:
                continue
            paths = menu.silent_paths(catalogue, caller=Caller(lang=lang, language_known=known, repeat=repeat, open=is_open))
            found.append(ZeroKeyPath(lang, known, kind, max(paths, key=lambda p: p.seconds)))
    return found


def _report_zero_key(directory: Path, config: Config, names: dict[str, prompts.Prompt]) -> bool:
    """Print the zero-key paths timed with the recordings; True if one is over the budget."""
    try:
        menu, paths, estimated = _timed_paths(config, directory, names)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    budget = config.ivr.zero_key_seconds
    print(f"zero-key paths of menu {menu.name!r} with these recordings (no key pressed: to a person; after hours: to the message's beep), budget {budget:g} s (ivr.zero_key_seconds):")
    over = False
    for found in paths:
        late = found.seconds > budget
        over = over or late
        who = f"{found.lang} {'(own number)' if found.language_known else '(default, language offered)'}, {found.kind}"
        steps = ", ".join(f"{n} {s:.2f}" for n, s in found.path.steps if s)
        print(f"  {'OVER' if late else 'ok':4} {found.seconds:5.2f} s  {who}: {' → '.join(found.path.nodes)} (answer {menu.answer_seconds:.2f}, {steps})")
    on_paths = {(found.lang, name) for found in paths for node in found.path.nodes for name in menu.node(node).prompt_names()}
    guessed = [f"{lang}/{name}" for lang, name in estimated if (lang, name) in on_paths]
    if guessed:
        print(f"  catalogue durations used where no WAV file was found: {', '.join(guessed)}")
    if over:
        print(f"a caller who presses nothing waits more than {budget:g} s: shorten or reorder what plays before the queue (the slowest nodes above), or record the prompts shorter")
    return over


def _report_long(directory: Path, names: dict[str, prompts.Prompt]) -> None:
    """Recordings much longer than the catalogue's estimate make the menu slower than its
    validation said: name them (a warning, not a failure)."""
    for lang in prompts.LANGUAGES:
        for name, prompt in sorted(names.items()):
            seconds = prompts.wav_seconds(prompts.sound_file(directory, lang, name))
            if seconds is not None and seconds > prompt.seconds(lang) * 1.25 + 0.3:
                print(
                    f"warning: {lang}/{name}.wav plays {seconds:.1f} s, the catalogue assumes {prompt.seconds(lang):.1f} s (set seconds = {{ {lang} = {seconds:.1f} }} in prompts.toml, or record it shorter)"
                )


def _synth(directory: Path, overwrite: bool, languages: list[str]) -> int:
    try:
        written = prompts.synthesize(directory, languages=languages, overwrite=overwrite)
    except prompts.SynthesisError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write under {directory}: {exc.strerror}") from None
    print(f"{len(written)} placeholder recordings written under {directory} (espeak-ng; replace them with real recordings)")
    return 0


def _menu(args: argparse.Namespace) -> int:
    from ivr.menu import MenuError, load_menu_file, resolve_menu_path

    config = load_config(args)
    try:
        # A path given on the command line is relative to here; a config's, to the config.
        path = Path(args.file) if args.file and Path(args.file).is_file() else resolve_menu_path(config, args.file)
        menu = load_menu_file(path, config)
    except MenuError as exc:
        raise CommandError(str(exc)) from None
    catalogue = prompts.catalogue()
    slowest = max((p for lang in prompts.LANGUAGES for p in menu.silent_paths(catalogue, lang)), key=lambda p: p.seconds)
    print(f"menu {menu.name!r} ({menu.source}) is valid: {len(menu.nodes)} nodes, queues {', '.join(sorted(menu.queues_used()))}")
    print(f"  a caller who presses nothing reaches {slowest.end!r} in about {slowest.seconds:.1f} s in {slowest.lang} (limit {menu.max_seconds_to_queue:g} s): {' → '.join(slowest.nodes)}")
    return 0


def _timed_paths(config: Config, directory: Path, names: dict[str, prompts.Prompt]) -> tuple[Any, list[ZeroKeyPath], list[tuple[str, str]]]:
    """The menu, its zero-key paths timed with the recordings under `directory`, and the
    recordings that were estimated; ValueError when the menu does not load."""
    from ivr.menu import MenuError, load_menu

    try:
        menu = load_menu(config, names)
    except MenuError as exc:
        raise ValueError(str(exc)) from None
    measured, estimated = prompts.measured_catalogue(directory, names)
    return menu, zero_key_paths(config, menu, measured), estimated


def zero_key_lines(config: Config, directory: Path) -> list[prompts.ZeroKeyLine]:
    """The zero-key report of `prompts check` as data (entry point ``hotline.prompt_checks``),
    for the desk's announcements page: the same menu, recordings and paths. Raises ValueError
    when the menu does not load."""
    _, paths, _ = _timed_paths(config, directory, prompts.catalogue())
    budget = config.ivr.zero_key_seconds
    return [prompts.ZeroKeyLine(p.lang, p.language_known, p.kind, p.seconds, budget, tuple(p.path.nodes)) for p in paths]
