"""`hotline asterisk-config render --out DIR [--check-only]` and `… check-manager [FILE]`.

Renders the hotline-*.conf files from the service config, checks them (the same check the
tests run) and writes them, 0640 when they hold a password. With --check-only nothing is
written: the exit status says whether the config renders. check-manager reads an existing
manager.conf and says which AMI classes the service's user lacks (asterisk_conf.manager).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from asterisk_conf import render as rendermod
from asterisk_conf.manager import ManagerConfError, check_manager
from asterisk_conf.secrets import SecretsError
from hotline import settings
from hotline.cli import CommandError, load_config
from hotline.config import Config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Callable[[argparse.Namespace], int]]:
    parser = subparsers.add_parser("asterisk-config", help="render the Asterisk files (pjsip, extensions, queues, manager)")
    sub = parser.add_subparsers(dest="asterisk_command", metavar="ACTION", required=True)
    p = sub.add_parser("render", help="render, check and write hotline-*.conf for Asterisk to #include")
    p.add_argument("--out", metavar="DIR", help="directory to write into (created if missing), e.g. /etc/asterisk/hotline")
    p.add_argument("--check-only", action="store_true", help="render and check, write nothing")
    p = sub.add_parser("check-manager", help="check that manager.conf gives the AMI user (ami.username) every class the service needs")
    p.add_argument("file", nargs="?", default=DEFAULT_MANAGER_CONF, metavar="FILE", help=f"manager.conf to read, #includes followed (default: {DEFAULT_MANAGER_CONF})")
    return {"asterisk-config": handle}


DEFAULT_MANAGER_CONF = "/etc/asterisk/manager.conf"


def handle(args: argparse.Namespace) -> int:
    if args.asterisk_command == "check-manager":
        return _check_manager(args)
    if not args.check_only and not args.out:
        raise CommandError("asterisk-config render: --out DIR is required (or --check-only)")
    config = settings.with_stored(load_config(args))
    prompts = prompt_names()
    try:
        rendering = rendermod.render(config, prompts=prompts)
    except (rendermod.RenderError, SecretsError) as exc:
        raise CommandError(str(exc)) from None
    for warning in rendering.warnings:
        print(f"hotline: warning: {warning}", file=sys.stderr)
    if args.check_only:
        names = ", ".join(f.name for f in rendering.files)
        print(f"asterisk-config: {names} render and check cleanly from {config.source}; nothing written")
        return 0
    try:
        paths = rendermod.write(rendering, Path(args.out))
    except OSError as exc:
        raise CommandError(f"cannot write into {args.out}: {exc.strerror or exc}") from None
    for path, f in zip(paths, rendering.files, strict=False):
        note = ", holds passwords" if f.has_secrets else ""
        print(f"wrote {path} ({f.mode:04o}{note})")
    return 0


def render_files(config: Config, out_dir: Path) -> list[str]:
    """Render, check and write the files (entry point ``hotline.asterisk_files``): what the
    desk calls after an administrator changed the queues. Raises ValueError with the reason."""
    try:
        rendering = rendermod.render(config, prompts=prompt_names())
        return [str(p) for p in rendermod.write(rendering, out_dir)]
    except (rendermod.RenderError, SecretsError) as exc:
        raise ValueError(str(exc)) from None
    except OSError as exc:
        raise ValueError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None


def _check_manager(args: argparse.Namespace) -> int:
    config = load_config(args)
    username = config.ami.username
    try:
        problems = check_manager(Path(args.file), username, listen_in=config.desk.listen_in)
    except ManagerConfError as exc:
        raise CommandError(str(exc)) from None
    if not problems:
        print(f"asterisk-config: AMI user {username} in {args.file} has every class the service needs")
        return 0
    for problem in problems:
        print(f"{args.file}: [{username}] {problem}")
    print(f"grant it: read = {','.join(rendermod.AMI_READ)} and write = {','.join(rendermod.ami_write(config))} (docs/ami.md)")
    return 1


def prompt_names() -> Collection[str] | None:
    """The prompt catalogue's names (hotline.prompts), or None where it does not exist yet."""
    import importlib

    try:
        prompts = importlib.import_module("hotline.prompts")
    except ModuleNotFoundError as exc:
        if exc.name == "hotline.prompts":
            return None
        raise
    return set(prompts.catalogue())
