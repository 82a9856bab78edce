"""The registered studies: one line each, ``name: module``; the module defines ``STUDY``.

The CLI, sweeps, ``deepscope check`` and reports read this table; adding a study is its own
module(s) plus one line here. Modules are imported on first use, so listing the commands stays cheap.
A study that lives outside deepscope is registered by the environment variable
``DEEPSCOPE_STUDIES="name=package.module;other=pkg.mod"`` (read at import; sweep workers inherit it).
"""
from __future__ import annotations

import importlib
import os

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
ENV_VARIABLE = "DEEPSCOPE_STUDIES"


def _from_environment(text: str) -> dict[str, str]:
    """``name=module;...`` as ``{name: module}``; a malformed entry is an error naming the variable."""
    extra = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, module = (piece.strip() for piece in entry.partition("="))
        if not sep or not name or not module:
            raise DeepscopeError(f"{ENV_VARIABLE}: expected name=package.module entries separated by ';'; "
                                 f"got {entry!r}.")
        extra[name] = module
    return extra


STUDIES.update(_from_environment(os.environ.get(ENV_VARIABLE, "")))


def get_study(name: str) -> Study:
    """The study registered as ``name``; an unknown name lists the registered ones."""
    if name not in STUDIES:
        raise DeepscopeError(f"unknown study {name!r}; the studies are: {', '.join(STUDIES)} "
                             f"(`deepscope studies` lists them).")
    return importlib.import_module(STUDIES[name]).STUDY


def all_studies() -> list[Study]:
    """Every registered study, in registry order."""
    return [get_study(name) for name in STUDIES]
