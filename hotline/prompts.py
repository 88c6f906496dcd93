"""The prompt catalogue: every recording the IVR and the rendered dialplan may play.

It lives in `hotline` because both `ivr` (menus name prompts) and `asterisk_conf` (the
dialplan plays some) check names against it. The texts are in `hotline/data/prompts.toml`,
Mandarin first, English second.

Sound naming. A prompt is installed once per language as
``<asterisk.sounds_dir>/<lang>/<name>.<ext>`` and played by its absolute path without the
extension, ``<sounds_dir>/<lang>/<name>``: Asterisk accepts absolute paths in STREAM FILE and
Playback, so the name never depends on where Asterisk's own sounds live or on the channel's
language setting (we switch language per call, on a key). ``ext`` is whatever Asterisk reads;
`synthesize` writes 8 kHz mono 16-bit ``.wav``, Asterisk's native telephony format.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import shutil
import subprocess
import tempfile
import tomllib
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
#: File extensions Asterisk can play that count as "present" for `missing_sounds`.
SOUND_EXTENSIONS = ("wav", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "wav16", "g729")
#: espeak-ng voices and speeds (words a minute) for the placeholder recordings. Mandarin at
#: 320 comes out near the 5 syllables a second the duration estimates assume, so a lab's
#: timings with placeholders are close to what the menu validator computed.
ESPEAK_VOICES = {"zh": "cmn", "en": "en-us"}
ESPEAK_SPEEDS = {"zh": 320, "en": 175}
_CHINESE_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")
CATALOGUE_PATH = Path(__file__).parent / "data" / "prompts.toml"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_DIGIT = re.compile(r"[0-9]")
_PAUSE = re.compile(r"[，。；、！？：,.;!?:]")

#: Seconds per unit of speech, by the language of the recording. A Mandarin announcer reads
#: about 5 syllables a second (300 字/分钟); English prompts run at about 2.8 words a second.
_SYLLABLE_SECONDS = 0.2
_WORD_SECONDS = 0.36
_PAUSE_SECONDS = 0.15
_MIN_SECONDS = 0.4


class CatalogueError(Exception):
    """The catalogue file is malformed; the message names the prompt and the problem."""


@dataclass(frozen=True)
class Prompt:
    """One prompt: its texts and how long each recording plays (estimated or measured)."""

    name: str
    zh: str
    en: str
    seconds_zh: float
    seconds_en: float

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def seconds(self, lang: str) -> float:
        return self.seconds_zh if lang == "zh" else self.seconds_en


def estimate_seconds(text: str, lang: str) -> float:
    """A playing time good enough to budget a menu: syllables, words, digits and pauses."""
    syllables = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    digits = len(_DIGIT.findall(text))
    # Digits are read in the voice of the text, not of the set: language_offer in the zh set
    # is English ("English, press 9."), and its 9 is an English word.
    digit_seconds = _SYLLABLE_SECONDS if syllables else _WORD_SECONDS
    total = syllables * _SYLLABLE_SECONDS + words * _WORD_SECONDS + digits * digit_seconds + len(_PAUSE.findall(text)) * _PAUSE_SECONDS
    return round(max(total, _MIN_SECONDS), 2)


def parse_catalogue(text: str, source: str = "<string>") -> dict[str, Prompt]:
    """Prompts from catalogue TOML; raises CatalogueError naming the prompt at fault."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{source}: not valid TOML: {exc}") from None
    prompts: dict[str, Prompt] = {}
    for name, entry in raw.items():
        where = f"{source}: prompt {name!r}"
        if not _NAME.match(name):
            raise CatalogueError(f"{where}: names are lower-case letters, digits and '_', starting with a letter")
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: expected a table with zh and en")
        unknown = sorted(set(entry) - {"zh", "en", "seconds"})
        if unknown:
            raise CatalogueError(f"{where}: unknown key {unknown[0]!r} (known: zh, en, seconds)")
        texts = {}
        for lang in LANGUAGES:
            value = entry.get(lang)
            if not isinstance(value, str) or not value.strip():
                raise CatalogueError(f"{where}: {lang} text missing or empty (every prompt has Chinese and English)")
            texts[lang] = value.strip()
        seconds = {lang: estimate_seconds(texts[lang], lang) for lang in LANGUAGES}
        measured = entry.get("seconds", {})
        if not isinstance(measured, dict) or not set(measured) <= set(LANGUAGES):
            raise CatalogueError(f"{where}: seconds must be a table such as {{ zh = 2.4, en = 3.1 }}")
        for lang, value in measured.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 600:
                raise CatalogueError(f"{where}: seconds.{lang} must be a number of seconds from 0 to 600")
            seconds[lang] = float(value)
        prompts[name] = Prompt(name=name, zh=texts["zh"], en=texts["en"], seconds_zh=seconds["zh"], seconds_en=seconds["en"])
    return prompts


@functools.lru_cache(maxsize=1)
def _shipped() -> Mapping[str, Prompt]:
    return parse_catalogue(CATALOGUE_PATH.read_text(encoding="utf-8"), str(CATALOGUE_PATH))


def catalogue() -> dict[str, Prompt]:
    """The shipped catalogue, by name (a fresh dict: callers may not change the shared one)."""
    return dict(_shipped())


# -- sound names


def sound_name(name: str, lang: str, sounds_dir: str) -> str:
    """What STREAM FILE / Playback is given: the absolute path without extension."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    if not _NAME.match(name):
        raise ValueError(f"not a prompt name: {name!r}")
    return f"{sounds_dir.rstrip('/')}/{lang}/{name}"


def parse_sound_name(sound: str, sounds_dir: str) -> tuple[str, str]:
    """(lang, prompt name) of a sound made by `sound_name`; ValueError for anything else."""
    prefix = sounds_dir.rstrip("/") + "/"
    if not sound.startswith(prefix):
        raise ValueError(f"{sound!r} is not under {prefix}")
    lang, _, name = sound[len(prefix) :].partition("/")
    if lang not in LANGUAGES or not _NAME.match(name):
        raise ValueError(f"{sound!r} is not <sounds_dir>/<lang>/<prompt>")
    return lang, name


# -- files


def sound_file(directory: Path, lang: str, name: str, ext: str = "wav") -> Path:
    return directory / lang / f"{name}.{ext}"


def missing_sounds(directory: Path, prompts: Iterable[str] | None = None, languages: Iterable[str] = LANGUAGES) -> dict[str, list[str]]:
    """Per language, the prompts with no file in any format Asterisk plays."""
    names = sorted(prompts if prompts is not None else catalogue())
    missing: dict[str, list[str]] = {}
    for lang in languages:
        absent = [n for n in names if not any(sound_file(directory, lang, n, ext).is_file() for ext in SOUND_EXTENSIONS)]
        if absent:
            missing[lang] = absent
    return missing


def wav_seconds(path: Path) -> float | None:
    """Playing time of a WAV file, None if it is not one Python's wave module reads."""
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (wave.Error, EOFError, OSError):
        return None


def measured_catalogue(directory: Path, prompts: Mapping[str, Prompt] | None = None) -> tuple[dict[str, Prompt], list[tuple[str, str]]]:
    """The catalogue with each prompt's seconds read from its WAV header under `directory`,
    and the (lang, name) pairs that kept the catalogue's figure (no file, or not a WAV)."""
    prompts = prompts if prompts is not None else catalogue()
    measured: dict[str, Prompt] = {}
    estimated: list[tuple[str, str]] = []
    for name, prompt in prompts.items():
        seconds = {}
        for lang in LANGUAGES:
            found = wav_seconds(sound_file(directory, lang, name))
            if found is None:
                estimated.append((lang, name))
            seconds[lang] = found if found is not None else prompt.seconds(lang)
        measured[name] = dataclasses.replace(prompt, seconds_zh=seconds["zh"], seconds_en=seconds["en"])
    return measured, estimated


class SynthesisError(Exception):
    """A tool is missing or failed; the message says which and what to install."""


Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


def synthesize(
    directory: Path,
    *,
    prompts: Mapping[str, Prompt] | None = None,
    languages: Iterable[str] = LANGUAGES,
    overwrite: bool = False,
    espeak: str = "espeak-ng",
    sox: str = "sox",
    run: Runner = subprocess.run,
) -> list[Path]:
    """Placeholder recordings: espeak-ng speaks each text, sox makes it 8 kHz mono 16-bit WAV.

    So a lab can place real calls before the voice talent has recorded anything. Existing
    files are kept unless `overwrite`. Returns the files written.
    """
    prompts = prompts if prompts is not None else catalogue()
    for tool, package in ((espeak, "espeak-ng"), (sox, "sox")):
        if shutil.which(tool) is None:
            raise SynthesisError(f"{tool} not found: install the {package} package (apt-get install {package})")
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="hotline-synth-") as scratch:
        raw = Path(scratch) / "raw.wav"
        for lang in languages:
            (directory / lang).mkdir(parents=True, exist_ok=True)
            for name in sorted(prompts):
                target = sound_file(directory, lang, name)
                if target.exists() and not overwrite:
                    continue
                text = prompts[name].text(lang)
                # The voice follows the text, not the set: language_offer is the other language.
                voice = "zh" if _CJK.search(text) else "en"
                if voice == "zh":
                    text = text.translate(_CHINESE_DIGITS)  # 12319 is read digit by digit
                _tool(run, [espeak, "-v", ESPEAK_VOICES[voice], "-s", str(ESPEAK_SPEEDS[voice]), "-w", str(raw), text], f"{lang}/{name}")
                # vol before the rate change keeps espeak's peaks from clipping after resampling.
                _tool(run, [sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target), "vol", "0.8"], f"{lang}/{name}")
                written.append(target)
    return written


def _tool(run: Runner, argv: list[str], what: str) -> None:
    try:
        result = run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SynthesisError(f"{what}: {argv[0]} failed: {exc}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()
        raise SynthesisError(f"{what}: {argv[0]} exited {result.returncode}: {detail[-1] if detail else 'no message'}")


# -- recordings uploaded by an administrator (the desk's announcements page)

#: What every recording must be: what `synthesize` writes and Asterisk plays on a telephony
#: channel without transcoding (slin, 8 kHz). Anything else is refused with how to convert it.
RECORDING_RATE = 8000
RECORDING_CHANNELS = 1
RECORDING_SAMPLE_BYTES = 2
#: About two minutes at 16 kB/s: no announcement on the zero-key path may be longer.
MAX_RECORDING_BYTES = 2 * 1024 * 1024
CONVERT_HINT = "convert it with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav"


class RecordingError(ValueError):
    """An uploaded recording is not one Asterisk can play as a prompt; says what to do."""


def check_recording(data: bytes) -> float:
    """The playing time of a recording in the one format prompts use; raises RecordingError
    naming what is wrong (not WAV, rate, channels, sample size, empty, too large)."""
    if len(data) > MAX_RECORDING_BYTES:
        raise RecordingError(f"the file is {len(data) / 1048576:.1f} MB; a prompt may be at most {MAX_RECORDING_BYTES // 1048576} MB (about two minutes)")
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            rate, channels, width, frames = audio.getframerate(), audio.getnchannels(), audio.getsampwidth(), audio.getnframes()
    except (wave.Error, EOFError) as exc:
        raise RecordingError(f"not a PCM WAV file ({exc}); {CONVERT_HINT}") from None
    found = f"{rate} Hz, {channels} channel{'s' if channels != 1 else ''}, {8 * width}-bit"
    if (rate, channels, width) != (RECORDING_RATE, RECORDING_CHANNELS, RECORDING_SAMPLE_BYTES):
        raise RecordingError(f"the recording is {found}; Asterisk's prompts must be {RECORDING_RATE} Hz, mono, {8 * RECORDING_SAMPLE_BYTES}-bit PCM: {CONVERT_HINT}")
    if frames == 0:
        raise RecordingError("the recording is empty (no audio frames)")
    return frames / float(rate)


def install_recording(directory: Path, lang: str, name: str, data: bytes) -> tuple[Path, float]:
    """Check a recording and put it where Asterisk plays the prompt from, replacing the old
    one in one rename (a call never hears half a file). Returns the file and its seconds."""
    if lang not in LANGUAGES:
        raise RecordingError(f"language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    if name not in catalogue():
        raise RecordingError(f"{name!r} is not a prompt of the catalogue (hotline/data/prompts.toml)")
    seconds = check_recording(data)
    target = sound_file(directory, lang, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{name}.", suffix=".wav", delete=False) as scratch:
        scratch.write(data)
    Path(scratch.name).chmod(0o644)
    Path(scratch.name).replace(target)
    return target, seconds


@dataclass(frozen=True)
class ZeroKeyLine:
    """One line of `hotline prompts check`'s zero-key report, for the announcements page."""

    lang: str
    #: True: the language's own number (no language offer); False: the default, offered.
    own_number: bool
    kind: str
    seconds: float
    budget: float
    nodes: tuple[str, ...]

    @property
    def over(self) -> bool:
        return self.seconds > self.budget


def zero_key(config: Any, directory: Path) -> list[ZeroKeyLine] | None:
    """The zero-key paths timed with the recordings under `directory`, as `hotline prompts
    check` computes them: the menu is the IVR's, so the feature provides the computation
    through the ``hotline.prompt_checks`` entry point. None when no IVR is installed."""
    from hotline import plugins

    checks = plugins.load(plugins.PROMPT_CHECKS)
    if not checks:
        return None
    lines: list[ZeroKeyLine] = []
    for check in checks.values():
        lines.extend(check(config, directory))
    return lines
