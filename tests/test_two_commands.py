"""CI runs exactly the README's second command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "hub serve --demo" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
