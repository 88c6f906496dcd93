"""The packages type-check: mypy with the zope plugin over everything we ship."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_is_clean():
    """mypy (config in setup.cfg) finds no errors in hotline, ivr, asterisk_conf, agent_desk, callback."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "hotline", "ivr", "asterisk_conf", "agent_desk", "callback"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
