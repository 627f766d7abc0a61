"""Every setting is documented, and the README opens with the two set-up commands."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from caregate.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [f.name for f in fields(Settings) if f"CAREGATE_{f.name.upper()}" not in README]
    assert missing == []


def test_readme_opens_with_run_and_test_commands() -> None:
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", README, re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert commands[:2] == ["make run", "make test"]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci
