"""Passwords the rendered Asterisk files need, kept out of the service's config file.

Sources, one per secret, so that an administrator always knows where a value came from:

* seat passwords: the ``[seats]`` table of ``asterisk.secrets_file`` (a TOML file);
* the trunk password: ``HOTLINE_TRUNK_PASSWORD``, else ``trunk_password`` in that file;
* the AMI secret: whatever the service itself logs in with — ``HOTLINE_AMI_PASSWORD`` or
  ``ami.password_file`` (both already merged into ``config.ami.password``). It is not read
  from the secrets file, because a secret the service cannot read would be useless.

Secret values go into Asterisk config lines, so they are checked here: printable ASCII
without spaces, ``;`` (starts a comment), ``\\`` (escapes) or quotes.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hotline.config import Config

ENV_TRUNK_PASSWORD = "HOTLINE_TRUNK_PASSWORD"
ENV_AMI_PASSWORD = "HOTLINE_AMI_PASSWORD"
#: Passwords we choose ourselves (seats, AMI) must be at least this long: SIP and AMI
#: passwords are brute-forced on every network that can reach them.
MIN_OWN_PASSWORD = 12

_SECRET = re.compile(r"^[\x21-\x7e]+$")
_FORBIDDEN = set(";\\\"'")
_FILE_KEYS = {"seats", "trunk_password"}


class SecretsError(Exception):
    """A secret is missing, unreadable or unusable; the message names which one."""


@dataclass(frozen=True)
class Secrets:
    """The secrets available for rendering; ``repr`` never shows a value."""

    seats: Mapping[str, str] = field(default_factory=dict, repr=False)
    trunk_password: str = field(default="", repr=False)
    ami_password: str = field(default="", repr=False)
    #: Where the file secrets came from (for messages), or "" when no file is configured.
    file: str = ""
    warnings: tuple[str, ...] = ()

    def values(self) -> set[str]:
        """Every secret value, so tests and checks can look for leaks."""
        return {v for v in (*self.seats.values(), self.trunk_password, self.ami_password) if v}


def secrets_path(config: Config) -> Path | None:
    """The secrets file, relative paths resolved against the config file's directory."""
    name = config.asterisk.secrets_file
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else config.base_dir / path


def load(config: Config, environ: Mapping[str, str] | None = None) -> Secrets:
    """Read the secrets from the file and the environment. Nothing is required here;
    `require` says which of them the configuration needs."""
    environ = os.environ if environ is None else environ
    warnings: list[str] = []
    seats: dict[str, str] = {}
    trunk = ""
    path = secrets_path(config)
    if path is not None:
        raw = _read_file(path, warnings)
        unknown = sorted(set(raw) - _FILE_KEYS)
        if unknown:
            raise SecretsError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_FILE_KEYS))})")
        table = raw.get("seats", {})
        if not isinstance(table, dict):
            raise SecretsError(f'{path}: seats: expected a table such as [seats] "8001" = "…"')
        declared = {s.extension for s in config.seats}
        for extension, value in table.items():
            if not isinstance(value, str):
                raise SecretsError(f'{path}: seats."{extension}": expected a string')
            seats[extension] = _checked(value, f'seats."{extension}" in {path}', MIN_OWN_PASSWORD)
            if extension not in declared:
                warnings.append(f'{path}: seats."{extension}" is not a declared seat; ignored')
        if "trunk_password" in raw:
            if not isinstance(raw["trunk_password"], str):
                raise SecretsError(f"{path}: trunk_password: expected a string")
            trunk = _checked(raw["trunk_password"], f"trunk_password in {path}", 1)
    if environ.get(ENV_TRUNK_PASSWORD):
        trunk = _checked(environ[ENV_TRUNK_PASSWORD], ENV_TRUNK_PASSWORD, 1)
    ami = ""
    if config.ami.enabled and config.ami.password:
        if not environ.get(ENV_AMI_PASSWORD) and not config.ami.password_file:
            raise SecretsError(f"ami.password is written in {config.source}; secrets never go in the service config: set {ENV_AMI_PASSWORD} or ami.password_file instead")
        where = ENV_AMI_PASSWORD if environ.get(ENV_AMI_PASSWORD) else f"ami.password_file ({config.ami.password_file})"
        ami = _checked(config.ami.password, where, MIN_OWN_PASSWORD)
    return Secrets(seats=seats, trunk_password=trunk, ami_password=ami, file=str(path or ""), warnings=tuple(warnings))


def require(config: Config, secrets: Secrets) -> None:
    """Fail, naming every missing secret and where it should come from, unless the
    configuration's seats, trunk and AMI user all have theirs."""
    where_file = secrets.file or "the file named by asterisk.secrets_file (not set)"
    missing: list[str] = []
    for seat in config.seats:
        if seat.extension not in secrets.seats:
            missing.append(f'seat {seat.extension} password (seats."{seat.extension}" in {where_file})')
    if config.asterisk.trunk_host and config.asterisk.trunk_username and not secrets.trunk_password:
        missing.append(f"trunk password ({ENV_TRUNK_PASSWORD}, or trunk_password in {where_file})")
    if config.ami.enabled and not secrets.ami_password:
        missing.append(f"AMI secret ({ENV_AMI_PASSWORD} or ami.password_file)")
    if missing:
        raise SecretsError("missing secrets: " + "; ".join(missing))


def _read_file(path: Path, warnings: list[str]) -> dict[str, object]:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretsError(f"secrets file {path} (asterisk.secrets_file) does not exist") from None
    except OSError as exc:
        raise SecretsError(f"cannot read secrets file {path}: {exc.strerror}") from None
    if mode & stat.S_IROTH:
        warnings.append(f"{path} is readable by every user (mode {stat.S_IMODE(mode):04o}); make it 0600 or 0640")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SecretsError(f"secrets file {path} is not valid TOML: {exc}") from None


def _checked(value: str, where: str, min_length: int) -> str:
    """The value, if it can stand alone as an Asterisk config value; never echoes it."""
    if not _SECRET.match(value) or _FORBIDDEN & set(value):
        raise SecretsError(f"{where}: a password must be printable ASCII without spaces, ';', '\\' or quotes")
    if len(value) < min_length:
        raise SecretsError(f"{where}: a password must have at least {min_length} characters")
    return value
