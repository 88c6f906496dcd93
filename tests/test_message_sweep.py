"""Messages the dialplan recorded while no FastAGI node answered still become tickets."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hotline.calllog import records as calls
from hotline.storage.models import Recording, Ticket, TicketSource
from hotline.tickets import voicemail as messages
from hotline.tickets.services import TicketPolicy
from hotline.worktime import WorkingCalendar

POLICY = TicketPolicy(calendar=WorkingCalendar(tz=ZoneInfo("Asia/Shanghai")))
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _message(directory, name: str, age_seconds: float) -> None:
    path = directory / name
    path.write_bytes(b"RIFF")
    stamp = (NOW - timedelta(seconds=age_seconds)).timestamp()
    os.utime(path, (stamp, stamp))


def test_sweep_opens_one_ticket_per_finished_message(database, tmp_path):
    """Old enough files without a recording row become tickets, once; young and odd files wait."""
    _message(tmp_path, "1700000000.1.wav", 600)
    _message(tmp_path, "1700000000.2.wav", 10)  # may still be recording
    _message(tmp_path, "bad name;rm.wav", 600)
    (tmp_path / "notes.txt").write_text("x")
    with database.transaction() as s:
        calls.start_call(s, uniqueid="1700000000.1", caller_number="13812345678")
        made = messages.sweep_fallback_messages(s, POLICY, tmp_path, now=NOW)
    assert [m.created for m in made] == [True]
    with database.transaction() as s:
        assert messages.sweep_fallback_messages(s, POLICY, tmp_path, now=NOW) == []
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.source is TicketSource.VOICEMAIL and ticket.caller_number == "+8613812345678"
        assert "系统繁忙" in ticket.description
        assert s.scalar(select(func.count()).select_from(Recording)) == 1
        call = calls.get(s, "1700000000.1")
        assert call is not None and call.ticket_id == ticket.id and call.disposition.value == "voicemail"


def test_sweep_skips_messages_the_ivr_already_filed(database, tmp_path):
    """A message the IVR recorded and filed (same path) is not filed again by the sweep."""
    _message(tmp_path, "1700000000.3.wav", 600)
    with database.transaction() as s:
        messages.leave_message(s, POLICY, uniqueid="1700000000.3", caller_number="13812345678", path=str(tmp_path / "1700000000.3.wav"), reason="closed")
        assert messages.sweep_fallback_messages(s, POLICY, tmp_path, now=NOW) == []
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


def test_sweep_of_a_missing_directory_does_nothing(database, tmp_path):
    """A node without Asterisk's spool mounted sweeps nothing and raises nothing."""
    with database.transaction() as s:
        assert messages.sweep_fallback_messages(s, POLICY, tmp_path / "absent", now=NOW) == []
