"""Configuration: defaults, the shipped sample, environment overrides, and errors that name
the file, the key, what was expected and what was found."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline import config
from hotline.config import ConfigError


def _without_origin(c: config.Config) -> config.Config:
    return dataclasses.replace(c, source="", base_dir=config.Path("/"))


def test_defaults_are_loopback_and_sqlite():
    """With no file, the service listens on loopback only and uses a local SQLite file."""
    c = config.load(None, environ={})
    assert c.http.bind == "127.0.0.1" and c.fastagi.bind == "127.0.0.1" and c.ami.host == "127.0.0.1"
    assert c.database.url.startswith("sqlite:///") and not c.ami.enabled


def test_sample_documents_the_defaults():
    """The shipped sample parses and says exactly what the defaults are."""
    sample = config.load(config.sample_path(), environ={})
    assert _without_origin(sample) == _without_origin(config.load(None, environ={}))


def test_relative_sqlite_path_is_relative_to_the_file(tmp_path):
    """A relative SQLite path resolves against the config file's directory, not the cwd."""
    f = tmp_path / "hotline.toml"
    f.write_text('[database]\nurl = "sqlite:///data/h.db"\n', encoding="utf-8")
    assert config.load(f, environ={}).database_url() == f"sqlite:///{tmp_path}/data/h.db"


@pytest.mark.parametrize(
    "text, key, expected, found",
    [
        ('[http]\nport = "8080"', "http.port", "an integer from 0 to 65535", "'8080' (str)"),
        ("[http]\nport = 70000", "http.port", "an integer from 0 to 65535", "70000 (int)"),
        ('[http]\nbind = "example.com"', "http.bind", "an IP address", "'example.com'"),
        ("[http]\nbind = 2130706433", "http.bind", "an IP address", "2130706433 (int)"),
        ("[tickets]\ndue_soon_hours = 24", "tickets.due_soon_hours", "no such key", "24 (int)"),
        ("[http]\nprot = 1", "http.prot", "no such key (known: bind, port)", "1 (int)"),
        ("[htp]\nport = 1", "htp", "a section (known: service", "{'port': 1}"),
        ('[service]\ntimezone = "Mars/Olympus"', "service.timezone", "an IANA time zone name", "'Mars/Olympus'"),
        ('[database]\nurl = "mysql://x"', "database.url", "a URL starting sqlite:/// or postgresql+psycopg://", "'mysql://x'"),
        ('[tickets]\ndefault_time_limit = "3 fortnights"', "tickets.default_time_limit", "a time limit", "'3 fortnights'"),
        ('[calendar]\noffice_hours = ["17:00-09:00"]', "calendar.office_hours", "valid office periods", "['17:00-09:00']"),
        ('[calendar.years.2027]\nholidays = ["2026-01-01"]', "calendar.years.2027", "dates in 2027", "'2026-01-01'"),
        ('[calendar.years.2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-01"]', "calendar.years.2027", "either a holiday or a workday", "'2027-01-01'"),
        ("[calendar.years.27]\nholidays = []", "calendar.years.27", "a year from 2000 to 2100", "'27'"),
        ('[satisfaction]\nsatisfied = ["很好"]', "satisfaction.satisfied", "a subset of satisfaction.levels", "'很好'"),
        ("[ami]\nenabled = true", "ami.password", "a password (set HOTLINE_AMI_PASSWORD", "nothing"),
        ("[ami]\nenabled = 1", "ami.enabled", "true or false", "1 (int)"),
        ("[fastagi]\nport = 8080", "fastagi.port", "a port different from http.port", "8080"),
    ],
)
def test_errors_name_file_key_expected_and_found(tmp_path, text, key, expected, found):
    """Each kind of bad value is refused with the file, key path, expectation and the value found."""
    f = tmp_path / "bad.toml"
    f.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(f, environ={})
    message = str(info.value)
    assert message.startswith(f"{f}: {key}: expected ")
    assert expected in message and found in message


@pytest.mark.parametrize(
    "content, problem",
    [(b"[http\n", "not valid TOML"), (b"\xff\xfe[http]", "not UTF-8 text"), (None, "no such file")],
)
def test_unusable_files_are_named(tmp_path, content, problem):
    """A missing, undecodable or non-TOML file is reported as such, with its path."""
    f = tmp_path / "broken.toml"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(ConfigError, match=problem) as info:
        config.load(f, environ={})
    assert str(info.value).startswith(str(f))


def test_environment_overrides_secrets(tmp_path):
    """Database URL and AMI password come from the environment, over the file."""
    f = tmp_path / "h.toml"
    f.write_text('[database]\nurl = "sqlite:///x.db"\n[ami]\nenabled = true\npassword = "from-file"\n', encoding="utf-8")
    c = config.load(f, environ={"HOTLINE_DATABASE_URL": "postgresql://u@db/h", "HOTLINE_AMI_PASSWORD": "s3cret"})
    assert c.database.url == "postgresql+psycopg://u@db/h"
    assert c.ami.password == "s3cret"
    assert "s3cret" not in repr(c)


def test_bad_environment_value_names_the_variable_not_the_secret():
    """A malformed override names its variable; a password is never echoed back."""
    with pytest.raises(ConfigError, match=r"environment HOTLINE_DATABASE_URL: database\.url"):
        config.load(None, environ={"HOTLINE_DATABASE_URL": "ftp://nope"})


def test_password_file(tmp_path):
    """ami.password_file is read relative to the config file; a missing one is an error."""
    (tmp_path / "ami.secret").write_text("pw-from-file\n", encoding="utf-8")
    f = tmp_path / "h.toml"
    f.write_text('[ami]\nenabled = true\npassword_file = "ami.secret"\n', encoding="utf-8")
    assert config.load(f, environ={}).ami.password == "pw-from-file"
    f.write_text('[ami]\nenabled = true\npassword_file = "missing.secret"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ami\.password_file: expected a readable file"):
        config.load(f, environ={})


def test_year_override_reaches_the_calendar(tmp_path):
    """[calendar.years.N] makes a year the library doesn't know usable, and wins over it."""
    f = tmp_path / "h.toml"
    f.write_text('[calendar.years.2031]\nholidays = ["2031-01-01", "2031-01-02"]\nworkdays = ["2031-01-04"]\n', encoding="utf-8")
    cal = config.load(f, environ={}).working_calendar()
    assert cal.is_year_known(2031)
    assert not cal.is_working_day(date(2031, 1, 2))  # a Thursday made a holiday
    assert cal.is_working_day(date(2031, 1, 4))  # a Saturday made a working day
    start = datetime(2031, 1, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    from hotline.worktime import TimeLimit

    assert cal.deadline(start, TimeLimit.parse("1 working_days")) == datetime(2031, 1, 3, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_default_queues_and_declared_queues_and_seats(tmp_path):
    """Without [[queues]] the general and emergency queues exist; declared ones replace them."""
    c = config.load(None, environ={})
    assert [q.name for q in c.queues] == ["general", "emergency"] and c.queue("emergency").weight == 10
    f = tmp_path / "h.toml"
    f.write_text(
        '[[queues]]\nname = "general"\n\n[[queues]]\nname = "roads"\nlabel_zh = "道路"\nlabel_en = "Roads"\nhours = ["workdays 08:30-17:30"]\n\n'
        '[[seats]]\nextension = "8001"\nqueues = ["general", "roads"]\n',
        encoding="utf-8",
    )
    c = config.load(f, environ={})
    assert [q.name for q in c.queues] == ["general", "roads"] and c.seats[0].queues == ("general", "roads")


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ('[[queues]]\nname = "Gen eral"', "queues[0].name", "a lower-case name"),
        ('[[queues]]\nname = "a"\n[[queues]]\nname = "a"', "queues[1].name", "a name not used by another entry"),
        ('[[queues]]\nlabel_zh = "x"', "queues[0].name", "a value (required)"),
        ('[[queues]]\nname = "a"\nhours = ["someday"]', "queues[0].hours", "valid hours"),
        ('[[queues]]\nname = "a"\nstrategy = "fastest"', "queues[0].strategy", "one of 'ringall'"),
        ('[[seats]]\nextension = "80a1"', "seats[0].extension", "an extension of 2 to 8 digits"),
        ('[[seats]]\nextension = "8001"\nqueues = ["nowhere"]', "seats[0].queues", "names of declared [[queues]]"),
        ("queues = 3", "queues", "an array of tables"),
        ('[asterisk]\nagi_hosts = ["10.0.0.5"]', "asterisk.agi_hosts", 'a list of "ip:port" entries'),
        ('[asterisk]\nhotline_number = "12319;x"', "asterisk.hotline_number", "a string of digits"),
    ],
)
def test_queue_seat_and_asterisk_errors(tmp_path, text, key, expected):
    """Queue, seat and Asterisk settings are validated like the rest, naming the entry."""
    f = tmp_path / "bad.toml"
    f.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: " + __import__("re").escape(key) + ": expected " + __import__("re").escape(expected)):
        config.load(f, environ={})
