"""Every ```python block of README.md runs as written, in a fresh interpreter, and prints the same twice."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README block failed:\n{code}\n--- stderr ---\n{done.stderr}"
    return done.stdout


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_and_reproduces(index, tmp_path):
    outputs = []
    for name in ("first", "second"):
        cwd = tmp_path / name
        cwd.mkdir()
        outputs.append(_run(BLOCKS[index], cwd))
    assert outputs[0].strip() and outputs[0] == outputs[1]     # seeded end to end: the same numbers each run
