"""The README stays true: its Python example runs and its two commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert len(commands) >= 2, "README must open with the demo and the test command"
    test_command = commands[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert "pytest" in test_command and "pip install" in test_command
    assert "pip install" in commands[0] and "ssrstf demo" in commands[0]
