"""How soon a classic AGI script sends its first command: ours against a bare pyst2 script.

Asterisk starts a process per call and the caller hears nothing until the script's first
command. Each run starts the script the way Asterisk does (argv = [script, flow], the AST_*
environment, stdin/stdout pipes), writes the exact header block of the lab's stdin transcript
(tests/fixtures/asterisk/agi_stdin.txt, call 12329) at once, and times from just before the
fork to the first complete line on the script's stdout. It then answers `200 result=0`,
sends SIGHUP and closes stdin (a caller hanging up), and waits for the process to exit.

Scripts compared, interleaved run by run so that load on the machine hits them alike:

- `bare pyst2`: `AGI()` then `answer()`, nothing else (the floor for a Python AGI script);
- `hotline-agi (venv python)`: agi_scripts/hotline-agi run by the project's interpreter,
  with the real IVR (a throwaway SQLite database), no test handler;
- `hotline-agi (as Asterisk runs it)`: executed directly, so `#!/usr/bin/env python3` finds
  the system interpreter first and the script re-execs under the .venv.

    .venv/bin/python bench/classic_start.py --runs 30
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "agi_scripts" / "hotline-agi"
TRANSCRIPT = ROOT / "tests" / "fixtures" / "asterisk" / "agi_stdin.txt"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

BARE_PYST2 = """\
import sys
from asterisk.agi import AGI
agi = AGI()
agi.answer()
"""


def header_block() -> tuple[bytes, dict[str, str]]:
    """The first call's `A>S` header lines and its AST_* environment, as captured."""
    text = TRANSCRIPT.read_text(encoding="utf-8")
    first = text.split("=" * 100)[2]
    environment = dict(re.findall(r"^\s+env (AST_[A-Z_]+)=(.*)$", first, re.MULTILINE))
    lines = []
    for match in re.finditer(r"A>S (b'.*')$", first, re.MULTILINE):
        line = ast.literal_eval(match.group(1))
        lines.append(line)
        if line == b"\n":
            break
    return b"".join(lines), environment


def one_run(argv: list[str], header: bytes, env: dict[str, str]) -> float:
    """Milliseconds from just before the fork to the first line on the script's stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd="/")
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(header)
    child.stdin.flush()
    out = b""
    fd = child.stdout.fileno()
    while b"\n" not in out:
        select.select([fd], [], [], 10.0)
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"{argv[:2]} exited before its first command")
        out += chunk
    elapsed = (time.perf_counter() - started) * 1000
    if not out.startswith(b"ANSWER\n"):
        raise RuntimeError(f"first command was {out!r}")
    try:
        child.stdin.write(b"200 result=0\n")
        child.stdin.flush()
        child.send_signal(signal.SIGHUP)
        child.stdin.close()
    except BrokenPipeError:
        pass
    child.stdout.read()
    child.wait(timeout=30)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per script (default 30)")
    args = parser.parse_args()
    header, ast_env = header_block()
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    with tempfile.TemporaryDirectory(prefix="classic-start-") as tmp:
        bare = Path(tmp) / "bare_pyst2.py"
        bare.write_text(BARE_PYST2, encoding="utf-8")
        config = Path(tmp) / "hotline.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{tmp}/hotline.db"\n[ivr]\njournal_dir = "{tmp}/journal"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(ast_env)
        env["HOTLINE_CONFIG"] = str(config)
        asterisk_env = dict(env, PATH="/usr/bin:/bin")
        cases = {
            "bare pyst2": ([python, str(bare), "ivr"], env),
            "hotline-agi (venv python)": ([python, str(SCRIPT), "ivr"], env),
            "hotline-agi (as Asterisk runs it)": ([str(SCRIPT), "ivr"], asterisk_env),
        }
        for argv, environment in cases.values():  # warm the page cache and .pyc files
            one_run(argv, header, environment)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (argv, environment) in cases.items():
                times[name].append(one_run(argv, header, environment))
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {args.runs} runs each, interleaved")
    print(f"{'script':36} {'min':>8} {'median':>8} {'max':>8}  (ms to the first command)")
    for name, values in times.items():
        print(f"{name:36} {min(values):8.1f} {statistics.median(values):8.1f} {max(values):8.1f}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "classic_start.json").write_text(json.dumps(times, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
