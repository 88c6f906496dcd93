"""`hotline prompts check|synth DIR` and `hotline menu check [FILE]`.

Registered through the `hotline.commands` entry point (setup.cfg). Each handler loads the config itself and
turns expected failures into `CommandError` (one line, exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hotline import prompts
from hotline.cli import CommandError, load_config


def register(subparsers: Any) -> dict[str, Any]:
    p = subparsers.add_parser("prompts", help="the IVR's prompt recordings")
    psub = p.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    p2 = psub.add_parser("check", help="list prompts with no sound file in DIR (exit 1 if any)")
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
        return _check(directory)
    return _synth(directory, args.force, args.lang or list(prompts.LANGUAGES))


def _check(directory: Path) -> int:
    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory")
    names = prompts.catalogue()
    missing = prompts.missing_sounds(directory, names)
    _report_long(directory, names)
    if not missing:
        print(f"all {len(names)} prompts present in {', '.join(prompts.LANGUAGES)} under {directory}")
        return 0
    for lang, absent in missing.items():
        print(f"{lang}: {len(absent)} of {len(names)} missing")
        for name in absent:
            print(f"  {prompts.sound_file(directory, lang, name)}  ({names[name].text(lang)})")
    return 1


def _report_long(directory: Path, names: dict[str, prompts.Prompt]) -> None:
    """Recordings much longer than the catalogue's estimate make the menu slower than its
    validation said: name them (a warning, not a failure)."""
    for lang in prompts.LANGUAGES:
        for name, prompt in sorted(names.items()):
            seconds = prompts.wav_seconds(prompts.sound_file(directory, lang, name))
            if seconds is not None and seconds > prompt.seconds(lang) * 1.25 + 0.3:
                print(f"warning: {lang}/{name}.wav plays {seconds:.1f} s, the catalogue assumes {prompt.seconds(lang):.1f} s (set seconds = {{ {lang} = {seconds:.1f} }} in prompts.toml, or record it shorter)")


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
    slowest = max(menu.silent_paths(catalogue, config.service.language), key=lambda p: p.seconds)
    print(f"menu {menu.name!r} ({menu.source}) is valid: {len(menu.nodes)} nodes, queues {', '.join(sorted(menu.queues_used()))}")
    print(f"  a caller who presses nothing reaches {slowest.end!r} in about {slowest.seconds:.1f} s (limit {menu.max_seconds_to_queue:g} s): {' → '.join(slowest.nodes)}")
    return 0
