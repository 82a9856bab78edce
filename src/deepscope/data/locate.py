"""Finding a dataset's files under ``root``, with errors that say where we looked."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deepscope.errors import DeepscopeError


def require_root(root: Path | None, dataset: str, how_to_get: str) -> Path:
    """``root`` as an existing directory, or a DeepscopeError saying what to pass."""
    if root is None:
        raise DeepscopeError(f"{dataset!r} is read from files: pass root=DIR (CLI: --root DIR). {how_to_get}")
    if not root.is_dir():
        raise DeepscopeError(f"root {str(root)!r} for {dataset!r} is not a directory; pass the folder that "
                             f"holds the data. {how_to_get}")
    return root


def find_files(root: Path, subfolder: str, names: Sequence[str], *, dataset: str, how_to_get: str,
               gz: bool = False) -> list[Path]:
    """The path of each file in ``names``, looked for in ``root/subfolder`` and then in ``root``.

    With ``gz=True`` each name may also carry a ``.gz`` suffix. Raises one DeepscopeError listing
    every missing file and each place looked for it.
    """
    folders = [root / subfolder, root]
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        candidates = [folder / variant for folder in folders for variant in ([name, name + ".gz"] if gz else [name])]
        hit = next((path for path in candidates if path.is_file()), None)
        if hit is None:
            missing.extend(str(path) for path in candidates)
        else:
            found.append(hit)
    if missing:
        raise DeepscopeError(f"{dataset!r}: files not found. Looked for:\n  " + "\n  ".join(missing)
                             + f"\n{how_to_get}")
    return found
