"""Image folders with RGB, grayscale and RGBA PNGs written here."""
import numpy as np
import pytest
import torch
from PIL import Image

from deepscope.data import load_dataset
from deepscope.errors import DeepscopeError


@pytest.fixture()
def folder(tmp_path):
    """cat/: an RGB and a grayscale PNG; dog/: an RGBA PNG and a stray text file."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(4, 5), dtype=np.uint8)
    rgba = rng.integers(0, 256, size=(4, 5, 4), dtype=np.uint8)
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
    Image.fromarray(rgb, "RGB").save(tmp_path / "cat" / "a.png")
    Image.fromarray(gray, "L").save(tmp_path / "cat" / "b.PNG")
    Image.fromarray(rgba, "RGBA").save(tmp_path / "dog" / "c.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    return tmp_path, rgb, gray, rgba


def as_chw(pixels):
    return torch.as_tensor(pixels, dtype=torch.float32).permute(2, 0, 1) / 255


def test_rgb_grayscale_and_rgba_files_load_as_rgb(folder):
    root, rgb, gray, rgba = folder
    data = load_dataset("image-folder", root=root)
    assert data.class_names == ["cat", "dog"] and data.y.tolist() == [0, 0, 1]
    assert data.x.shape == (3, 3, 4, 5) and data.x.dtype == torch.float32
    assert torch.equal(data.x[0], as_chw(rgb))
    assert torch.equal(data.x[1], as_chw(np.repeat(gray[:, :, None], 3, axis=2)))
    assert torch.equal(data.x[2], as_chw(rgba[:, :, :3]))  # alpha dropped


def test_grayscale_folder_uses_pils_luma_and_size_resizes(folder):
    root, rgb, gray, _ = folder
    data = load_dataset("image-folder", root=root, grayscale=True)
    assert data.input_shape == (1, 4, 5)
    assert torch.equal(data.x[1, 0], torch.as_tensor(gray, dtype=torch.float32) / 255)
    luma = (rgb.astype(float) @ np.array([0.299, 0.587, 0.114])) / 255
    assert np.abs(data.x[0, 0].numpy() - luma).max() <= 1 / 255  # PIL rounds to 8 bits
    assert load_dataset("image-folder", root=root, size=3).input_shape == (3, 3, 3)


def test_mixed_sizes_need_size(folder):
    root = folder[0]
    Image.new("RGB", (9, 7), (10, 20, 30)).save(root / "dog" / "big.jpg")
    with pytest.raises(DeepscopeError, match="different sizes.*pass size=S"):
        load_dataset("image-folder", root=root)
    data = load_dataset("image-folder", root=root, size=4)
    assert data.x.shape == (4, 3, 4, 4) and data.y.tolist() == [0, 0, 1, 1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(DeepscopeError, match="no class sub-folders"):
        load_dataset("image-folder", root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeepscopeError, match=r"\['empty'\] .* hold no images"):
        load_dataset("image-folder", root=tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DeepscopeError, match="cannot read image .*broken.png"):
        load_dataset("image-folder", root=tmp_path)
    with pytest.raises(DeepscopeError, match="has no splits"):
        load_dataset("image-folder", root=tmp_path, split="test")
