"""Caller numbers: one stored form per subscriber, and masking for roles that don't need them.

Asterisk hands us caller IDs as the trunk delivers them: 13812345678, 053212345678,
8613812345678, +86 532 1234 5678, 'anonymous'. Stored as E.164 so a repeat caller is
recognised whatever form the trunk used this time.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

DEFAULT_REGION = "CN"
_WITHHELD = {"", "anonymous", "unknown", "private", "restricted", "unavailable", "<unknown>"}
_ALLOWED = re.compile(r"^[0-9+()\-. ]{1,32}$")


class InvalidPhoneNumber(ValueError):
    pass


def normalise(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """E.164 for a plausible number; '' when withheld; InvalidPhoneNumber for anything else.

    Short service numbers (12345, 110) are kept as their digits: they are real callers'
    numbers on an internal trunk and must not be rejected.
    """
    return _normalise(raw or "", region)


#: Parsing costs ~30 µs and one call normalises its caller's number three times (the IVR's
#: lookup, its record, the desk's pop); the same callers ring again. A refused number raises
#: and is not kept.
@functools.lru_cache(maxsize=4096)
def _normalise(raw: str, region: str) -> str:
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return ""
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}")
    digits = re.sub(r"\D", "", text)
    if not digits:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r}")
    if len(digits) <= 6 and not text.startswith("+"):
        return digits
    candidate = text
    if not text.startswith("+") and digits.startswith("86") and len(digits) >= 12:
        candidate = "+" + digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r} ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_or_raw(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """For call logging, where a strange caller ID must still be kept, not refused."""
    try:
        return normalise(raw, region)
    except InvalidPhoneNumber:
        return re.sub(r"[^0-9+*#]", "", raw or "")[:32]


def national(e164: str, region: str = DEFAULT_REGION) -> str:
    """The form a person dials locally and Asterisk sends to the trunk (0532…, 138…)."""
    if not e164.startswith("+"):
        return e164
    number = phonenumbers.parse(e164, region)
    return re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def mask(number: str) -> str:
    """138****5678: enough to confirm with a caller, not enough to call them."""
    digits = national(number) if number.startswith("+") else number
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 7 else 1
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]
