import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import MLP, build_model, load_model, save_model
from deepscope.models.io import FORMAT, VERSION


def test_round_trip_gives_the_same_model(small, tmp_path):
    name, options, x = small
    model = build_model(name, seed=2, **options)
    with torch.no_grad():                                   # move the weights away from the seed's init
        for p in model.parameters():
            p.add_(0.01)
    model.train()(x)                                        # and BatchNorm's running statistics
    path = save_model(model, tmp_path / "sub" / f"{name}.pt")
    loaded = load_model(path)
    assert not loaded.training and loaded.build_spec == model.build_spec
    torch.testing.assert_close(loaded(x), model.eval()(x), rtol=0, atol=0)


def test_model_without_build_spec_is_refused(tmp_path):
    with pytest.raises(DeepscopeError, match="built outside build_model; save its state_dict yourself"):
        save_model(MLP(4, 2, [3]), tmp_path / "m.pt")


def test_missing_foreign_and_unknown_files_are_refused(tmp_path):
    with pytest.raises(DeepscopeError, match="no model file"):
        load_model(tmp_path / "absent.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(DeepscopeError, match="not a deepscope model file"):
        load_model(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(DeepscopeError, match="not a deepscope model file"):
        load_model(tmp_path / "plain.pt")
    spec = {"name": "vgg", "options": {}, "seed": 0}
    torch.save({"format": FORMAT, "version": VERSION, "spec": spec, "state_dict": {}}, tmp_path / "vgg.pt")
    with pytest.raises(DeepscopeError, match="cannot rebuild.*unknown model 'vgg'"):
        load_model(tmp_path / "vgg.pt")


def test_weights_that_do_not_fit_the_spec_are_refused(tmp_path):
    model = build_model("lenet", num_classes=3)
    path = save_model(model, tmp_path / "m.pt")
    saved = torch.load(path, weights_only=True)
    saved["spec"]["options"]["num_classes"] = 4
    torch.save(saved, path)
    with pytest.raises(DeepscopeError, match="cannot rebuild.*size mismatch"):
        load_model(path)


def test_a_pruned_model_comes_back_with_its_masks(tmp_path):
    from deepscope.prune import apply_masks, masks_of, prune_by_magnitude

    model = build_model("mlp", in_features=6, num_classes=3, hidden=[5], batchnorm=False, seed=2)
    apply_masks(model, prune_by_magnitude(model, 0.5, scope="layerwise"))
    loaded = load_model(save_model(model, tmp_path / "pruned.pt"))
    assert masks_of(loaded).keys() == masks_of(model).keys()
    assert all(torch.equal(a, b) for a, b in zip(masks_of(loaded).values(), masks_of(model).values()))
    x = torch.randn(4, 6)
    assert torch.equal(loaded(x), model.eval()(x))
