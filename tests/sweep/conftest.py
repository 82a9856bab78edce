"""Register the test-only `sleepy` study here and in every process a sweep starts."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepscope.studies.registry import STUDIES

HERE = str(Path(__file__).parent)


@pytest.fixture(autouse=True)
def sleepy_registered(monkeypatch):
    monkeypatch.setitem(STUDIES, "sleepy", "sleepy_study")
    monkeypatch.setenv("DEEPSCOPE_STUDIES", "sleepy=sleepy_study")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
