"""Labelled images from a folder tree: ``root/<class name>/<image file>``.

Classes are the sub-folders sorted by name (ids 0..K-1 in that order); images are read in sorted
file-name order. Every file is converted to RGB (or to 8-bit gray with ``grayscale=True``), so
grayscale, palette and RGBA files load alike.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.locate import require_root
from deepscope.data.transforms import pil_to_tensor, resize
from deepscope.errors import DeepscopeError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
HOW_TO_ARRANGE = (f"Arrange the images as ROOT/<class name>/<image> with one sub-folder per class "
                  f"(file types: {', '.join(EXTENSIONS)}).")


def _read_image(path: Path, grayscale: bool) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            return pil_to_tensor(image, grayscale)
    except (OSError, UnidentifiedImageError) as exc:
        raise DeepscopeError(f"cannot read image {path} ({exc}); remove or replace the file.") from exc


def _class_files(root: Path) -> dict[str, list[Path]]:
    """{class name: sorted image files} for each non-hidden sub-folder of ``root``."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DeepscopeError(f"{root} has no class sub-folders. {HOW_TO_ARRANGE}")
    files = {folder.name: sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
             for folder in folders}
    empty = [name for name, paths in files.items() if not paths]
    if empty:
        raise DeepscopeError(f"class folder(s) {empty} under {root} hold no images. {HOW_TO_ARRANGE}")
    return files


def load_image_folder(request: SourceRequest) -> Dataset:
    """Images [n, C, H, W] in [0, 1] (C=3, or 1 with grayscale) labelled by their folder."""
    root = require_root(request.root, "image-folder", HOW_TO_ARRANGE)
    if request.split != "train":
        raise DeepscopeError(f"image-folder has no splits; drop split={request.split!r} and point root at the "
                             f"folder of the split you want (e.g. root=.../test).")
    files = _class_files(root)
    images, labels = [], []
    for label, paths in enumerate(files.values()):
        for path in paths:
            image = _read_image(path, request.grayscale)
            images.append(resize(image[None], request.size)[0] if request.size else image)
            labels.append(label)
    sizes = sorted({tuple(image.shape[1:]) for image in images})
    if len(sizes) > 1:
        raise DeepscopeError(f"the images under {root} have different sizes (e.g. {sizes[0]} and {sizes[-1]} as "
                             f"H x W); pass size=S to resize them all to S x S.")
    return Dataset(x=torch.stack(images), y=torch.tensor(labels, dtype=torch.int64), class_names=list(files),
                   source=f"image folder {root} ({len(images)} files)", task="classification", name="image-folder")
