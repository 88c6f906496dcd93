"""The prompt catalogue and its commands: every prompt the menus and flows use exists in
Chinese and English; sound names map to <sounds_dir>/<lang>/<name>; `hotline prompts synth`
really runs espeak-ng and sox and `hotline prompts check` finds the files (and the ones
missing); `hotline menu check` validates menus from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from hotline import config as configmod
from hotline import prompts
from hotline.storage.models import TicketStatus
from ivr.flows import FLOW_PROMPTS
from ivr.menu import load_menu

HOTLINE = [sys.executable, "-m", "hotline"]
SKILLS = [{"name": n} for n in ("general", "emergency", "roads", "sanitation", "street_order")]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    full_env.update(env or {})
    return subprocess.run([*HOTLINE, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def test_every_prompt_has_chinese_and_english():
    """Chinese first, English available: both texts, a positive duration each."""
    catalogue = prompts.catalogue()
    assert len(catalogue) >= 20
    for prompt in catalogue.values():
        assert prompt.zh and prompt.en and prompt.seconds("zh") > 0 and prompt.seconds("en") > 0


def test_everything_played_is_in_the_catalogue():
    """Both shipped menus, the flows' own prompts and a status phrase per ticket status."""
    catalogue = prompts.catalogue()
    default = load_menu(configmod.from_mapping({}))
    skills = load_menu(configmod.from_mapping({"ivr": {"menu": "skills"}, "queues": SKILLS}))
    used = default.prompts_used() | skills.prompts_used() | set(FLOW_PROMPTS) | {f"status_{s.value}" for s in TicketStatus}
    assert used - set(catalogue) == set()


def test_catalogue_is_a_fresh_copy():
    """Callers may not change the shared catalogue by accident."""
    first = prompts.catalogue()
    first.pop("welcome")
    assert "welcome" in prompts.catalogue()


def test_sound_names_are_absolute_paths_per_language():
    """STREAM FILE gets <sounds_dir>/<lang>/<name> (no extension), and it parses back."""
    name = prompts.sound_name("welcome", "en", "/var/lib/asterisk/sounds/hotline/")
    assert name == "/var/lib/asterisk/sounds/hotline/en/welcome"
    assert prompts.parse_sound_name(name, "/var/lib/asterisk/sounds/hotline") == ("en", "welcome")
    for bad in (("welcome", "fr"), ("../etc/passwd", "zh"), ("Welcome", "zh")):
        with pytest.raises(ValueError):
            prompts.sound_name(bad[0], bad[1], "/snd")
    with pytest.raises(ValueError):
        prompts.parse_sound_name("/elsewhere/zh/welcome", "/snd")


@pytest.mark.parametrize(
    "text, lang, seconds",
    [
        ("您好，12319城管热线。", "zh", 2.5),  # 11 syllables + 2 pauses
        ("English, press 9.", "en", 1.38),  # 3 words + 2 pauses
        ("嗯", "zh", 0.4),  # never shorter than 0.4 s
    ],
)
def test_duration_estimate(text, lang, seconds):
    """5 syllables or 2.8 words a second, 0.15 s a pause: enough to budget a menu."""
    assert prompts.estimate_seconds(text, lang) == pytest.approx(seconds, abs=0.01)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[welcome]\nzh = "您好"\n', "en text missing or empty"),
        ('[welcome]\nzh = "您好"\nen = ""\n', "en text missing or empty"),
        ('[Welcome]\nzh = "您好"\nen = "Hello"\n', "names are lower-case"),
        ('[welcome]\nzh = "您好"\nen = "Hello"\nvoice = "x"\n', "unknown key 'voice'"),
        ('[welcome]\nzh = "您好"\nen = "Hello"\nseconds = { zh = -1 }\n', "seconds.zh must be a number"),
        ("welcome = 3\n", "expected a table"),
    ],
)
def test_broken_catalogue_names_the_prompt(text, fragment):
    """A malformed catalogue entry is refused with the prompt's name and the problem."""
    with pytest.raises(prompts.CatalogueError) as caught:
        prompts.parse_catalogue(text, "prompts.toml")
    assert "prompts.toml" in str(caught.value) and fragment in str(caught.value)


def test_measured_seconds_override_the_estimate():
    """Once recordings exist their real durations can be written into the catalogue."""
    parsed = prompts.parse_catalogue('[welcome]\nzh = "您好"\nen = "Hello"\nseconds = { zh = 2.25 }\n')
    assert parsed["welcome"].seconds("zh") == 2.25 and parsed["welcome"].seconds("en") == prompts.estimate_seconds("Hello", "en")


def test_synth_makes_real_recordings_and_check_finds_them(tmp_path):
    """`prompts synth` runs espeak-ng and sox for every prompt in both languages (8 kHz mono
    16-bit WAV); `prompts check` then finds them all, and reports one that goes missing."""
    sounds = tmp_path / "sounds"
    made = run("prompts", "synth", str(sounds), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    count = len(prompts.catalogue())
    assert f"{count * 2} placeholder recordings written" in made.stdout
    with wave.open(str(sounds / "zh" / "welcome.wav"), "rb") as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert 1.0 < audio.getnframes() / 8000 < 6.0
    checked = run("prompts", "check", str(sounds), cwd=tmp_path)
    assert checked.returncode == 0 and f"all {count} prompts present" in checked.stdout
    (sounds / "en" / "goodbye.wav").unlink()
    (sounds / "zh" / "queue_busy.wav").rename(sounds / "zh" / "queue_busy.gsm")  # any format Asterisk plays counts
    checked = run("prompts", "check", str(sounds), cwd=tmp_path)
    assert checked.returncode == 1
    assert "en: 1 of" in checked.stdout and "en/goodbye.wav" in checked.stdout and "zh:" not in checked.stdout
    again = run("prompts", "synth", str(sounds), "--lang", "en", cwd=tmp_path)
    assert "1 placeholder recordings written" in again.stdout


def test_check_warns_about_recordings_longer_than_the_catalogue(tmp_path):
    """A recording far longer than its estimate would make the menu slower than validated."""
    sounds = tmp_path / "sounds"
    prompts.synthesize(sounds, prompts={"welcome": prompts.catalogue()["welcome"]}, languages=["zh"])
    target = sounds / "zh" / "welcome.wav"
    with wave.open(str(target), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 8000 * 9)
    checked = run("prompts", "check", str(sounds), cwd=tmp_path)
    assert "warning: zh/welcome.wav plays 9.0 s, the catalogue assumes 2.5 s" in checked.stdout


def test_check_of_a_missing_directory(tmp_path):
    """A directory that is not there is one line and exit 1, not a traceback."""
    result = run("prompts", "check", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.returncode == 1 and "is not a directory" in result.stderr and "Traceback" not in result.stderr


def test_synth_without_espeak_says_what_to_install(tmp_path):
    """No espeak-ng on PATH: a clear message naming the package, exit 1."""
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run("prompts", "synth", str(tmp_path / "s"), cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 1
    assert "espeak-ng not found: install the espeak-ng package" in result.stderr


def test_menu_check_commands(tmp_path):
    """`hotline menu check` accepts the shipped menu, refuses a broken file naming the node,
    and checks the skills menu against the config's queues."""
    ok = run("menu", "check", cwd=tmp_path)
    assert ok.returncode == 0 and "menu 'default'" in ok.stdout and "reaches 'operators' in about" in ok.stdout
    bad = tmp_path / "city.toml"
    bad.write_text((Path(__file__).parent.parent / "ivr" / "menus" / "default.toml").read_text(encoding="utf-8").replace('queue = "emergency"', 'queue = "repairs"'), encoding="utf-8")
    refused = run("menu", "check", str(bad), cwd=tmp_path)
    assert refused.returncode == 1 and "city.toml: node 'emergency': queue 'repairs' is not declared" in refused.stderr
    skills = run("menu", "check", "skills", cwd=tmp_path)
    assert skills.returncode == 1 and "node 'roads'" in skills.stderr
    config = tmp_path / "hotline.toml"
    config.write_text("".join(f'[[queues]]\nname = "{q["name"]}"\n' for q in SKILLS), encoding="utf-8")
    accepted = run("-c", str(config), "menu", "check", "skills", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr


def test_docs_list_every_prompt():
    """docs/ivr.md's catalogue table names every prompt with its Chinese text."""
    text = (Path(__file__).parent.parent / "docs" / "ivr.md").read_text(encoding="utf-8")
    for prompt in prompts.catalogue().values():
        assert f"| `{prompt.name}` | {prompt.zh} |" in text, prompt.name


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * int(8000 * seconds))


def recordings_as_catalogued(sounds: Path, **real: float) -> None:
    """Every prompt as a WAV as long as the catalogue says, except `real` (name_lang=seconds)."""
    for name, prompt in prompts.catalogue().items():
        for lang in prompts.LANGUAGES:
            write_wav(prompts.sound_file(sounds, lang, name), real.get(f"{name}_{lang}", prompt.seconds(lang)))


AFTER_HOURS = '[[queues]]\nname = "general"\nhours = ["workdays 08:30-17:30"]\n[[queues]]\nname = "emergency"\n'


def test_zero_key_paths_use_the_recordings_lengths(tmp_path):
    """The zero-key path of each kind of caller and language is timed from the WAV headers,
    not the catalogue: a language offer that plays 2.5 s instead of 1.38 s puts the default
    language's callers over 10 s, and `prompts check` fails naming them (it said nothing)."""
    from ivr.commands import zero_key_paths

    sounds = tmp_path / "sounds"
    recordings_as_catalogued(sounds, language_offer_zh=2.5)
    config = configmod.parse(AFTER_HOURS, source="hotline.toml", environ={})
    measured, estimated = prompts.measured_catalogue(sounds)
    assert estimated == [] and measured["language_offer"].seconds("zh") == 2.5
    found = {(p.lang, p.kind): p for p in zero_key_paths(config, load_menu(config), measured)}
    assert set(found) == {(lang, kind) for lang in ("zh", "en") for kind in ("new caller", "repeat caller", "after hours")}
    assert found["zh", "new caller"].seconds > 10 and not found["zh", "new caller"].language_known
    assert found["en", "new caller"].language_known and found["en", "new caller"].seconds < 10
    assert found["zh", "after hours"].path.nodes == ("hours", "closed", "night_message")
    (tmp_path / "hotline.toml").write_text(AFTER_HOURS, encoding="utf-8")
    checked = run("-c", "hotline.toml", "prompts", "check", str(sounds), cwd=tmp_path)
    assert checked.returncode == 1, checked.stdout
    assert "OVER" in checked.stdout and "zh (default, language offered), new caller" in checked.stdout
    assert "budget 10 s (ivr.zero_key_seconds)" in checked.stdout


def test_default_menu_fits_the_budget_with_its_placeholder_recordings(tmp_path):
    """With every prompt recorded (espeak-ng placeholders), every kind of caller in both
    languages reaches a person — after hours, the message's beep — within 10 s."""
    sounds = tmp_path / "sounds"
    prompts.synthesize(sounds)
    (tmp_path / "hotline.toml").write_text(AFTER_HOURS, encoding="utf-8")
    checked = run("-c", "hotline.toml", "prompts", "check", str(sounds), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.count("  ok ") == 6 and "OVER" not in checked.stdout


def test_missing_recordings_are_timed_from_the_catalogue_and_named(tmp_path):
    """A prompt with no file keeps the catalogue's duration, and the check says which."""
    sounds = tmp_path / "sounds"
    recordings_as_catalogued(sounds)
    (sounds / "en" / "welcome.wav").unlink()
    checked = run("prompts", "check", str(sounds), cwd=tmp_path)
    assert checked.returncode == 1
    assert "catalogue durations used where no WAV file was found: en/welcome" in checked.stdout


def test_zero_key_budget_is_a_validated_config_key(tmp_path):
    """ivr.zero_key_seconds moves the budget (a slow recording passes under 12 s), and a
    value beyond GB/T 33358's 15 s is refused naming the key."""
    sounds = tmp_path / "sounds"
    recordings_as_catalogued(sounds, language_offer_zh=2.0)
    (tmp_path / "hotline.toml").write_text("[ivr]\nzero_key_seconds = 12\n", encoding="utf-8")
    assert run("-c", "hotline.toml", "prompts", "check", str(sounds), cwd=tmp_path).returncode == 0
    with pytest.raises(configmod.ConfigError) as caught:
        configmod.parse("[ivr]\nzero_key_seconds = 30\n", source="hotline.toml", environ={})
    assert "ivr.zero_key_seconds" in str(caught.value) and "from 1 to 15" in str(caught.value)
