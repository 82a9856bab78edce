"""The registered studies: one line each, ``name: module``; the module defines ``STUDY``.

The CLI, sweeps, ``deepscope check`` and reports read this table; adding a study is its own
module(s) plus one line here. Modules are imported on first use, so listing the commands stays cheap.
"""
from __future__ import annotations

import importlib

from deepscope.errors import DeepscopeError
from deepscope.studies.base import Study

STUDIES: dict[str, str] = {
    "esl": "deepscope.studies.esl",
    "eos": "deepscope.studies.eos",
    "lazy": "deepscope.studies.lazy",
    "grokking": "deepscope.studies.grokking",
    "id": "deepscope.studies.intrinsic",
    "id-sweep": "deepscope.studies.id_sweep",
    "lottery": "deepscope.studies.lottery",
    "collapse": "deepscope.studies.collapse",
    "dse": "deepscope.studies.dse",
    "dse-toy": "deepscope.studies.dse_toy",
    "info-plane": "deepscope.studies.info_plane",
    "elasticity": "deepscope.studies.elasticity",
    "le-sde": "deepscope.studies.le_sde",
}


def get_study(name: str) -> Study:
    """The study registered as ``name``; an unknown name lists the registered ones."""
    if name not in STUDIES:
        raise DeepscopeError(f"unknown study {name!r}; the studies are: {', '.join(STUDIES)} "
                             f"(`deepscope studies` lists them).")
    return importlib.import_module(STUDIES[name]).STUDY


def all_studies() -> list[Study]:
    """Every registered study, in registry order."""
    return [get_study(name) for name in STUDIES]
