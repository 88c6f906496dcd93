"""Caller numbers: one stored form whatever the trunk sent, and masking."""

from __future__ import annotations

import pytest

from hotline import phone


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("13812345678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("053288880001", "+8653288880001"),
        ("0532-8888 0001", "+8653288880001"),
        ("+86 532 8888 0001", "+8653288880001"),
        ("12345", "12345"),
        ("110", "110"),
        ("anonymous", ""),
        ("", ""),
        (None, ""),
        ("+1 212 555 0100", "+12125550100"),
    ],
)
def test_normalise(raw, stored):
    """Every form a Chinese trunk delivers maps to one E.164 value; service numbers stay digits."""
    assert phone.normalise(raw) == stored


@pytest.mark.parametrize("raw", ["1381234567a", "13812345678; DROP TABLE", "+", "12\n34", "9" * 40, "+86 1"])
def test_garbage_is_refused(raw):
    """Letters, control characters, injections and impossible lengths are refused with the value quoted."""
    with pytest.raises(phone.InvalidPhoneNumber, match="phone number"):
        phone.normalise(raw)


def test_call_logging_keeps_strange_caller_ids():
    """For the call log a strange caller ID is kept (cleaned), never refused."""
    assert phone.normalise_or_raw("13812345678") == "+8613812345678"
    assert phone.normalise_or_raw('"Bob" <sip:1001@pbx>') == "1001"


@pytest.mark.parametrize(
    "stored, masked",
    [("+8613812345678", "138****5678"), ("+8653288880001", "053*****0001"), ("12345", "12345"), ("110", "***")],
)
def test_mask(stored, masked):
    """Masked numbers keep a short prefix and the last four digits, enough to confirm with a caller."""
    assert phone.mask(stored) == masked


def test_national_form_for_dialling():
    """Stored E.164 converts back to the form the trunk dials."""
    assert phone.national("+8613812345678") == "13812345678"
    assert phone.national("+8653288880001") == "053288880001"
