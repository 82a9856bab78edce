import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.train import build_optimizer


def _pair(seed=0):
    torch.manual_seed(seed)
    a = build_model("mlp", in_features=6, num_classes=3, hidden_dim=5, depth=3)
    b = build_model("mlp", in_features=6, num_classes=3, hidden_dim=5, depth=3)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("name,kwargs,reference", [
    ("sgd", dict(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2)),
    ("adam", dict(lr=1e-2, weight_decay=1e-3), lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3)),
    ("adamw", dict(lr=1e-2, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
])
def test_flat_optimizers_match_torch_optim(name, kwargs, reference):
    ours_model, ref_model = _pair()
    ours, ref = build_optimizer(name, ours_model.parameters(), **kwargs), reference(ref_model.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(6):
        x, y = torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(ours_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # the parameters really live in one buffer, and state_dict round-trips into it
    assert all(p.data_ptr() >= ours.flat.param.data_ptr() for p in ours_model.parameters())
    ours_model.load_state_dict(ref_model.state_dict())
    torch.testing.assert_close(ours.flat.param.detach(), torch.cat([q.detach().reshape(-1) for q in ref_model.parameters()]))


def test_bad_settings():
    model, _ = _pair()
    with pytest.raises(DeepscopeError, match="unknown optimizer"):
        build_optimizer("rmsprop", model.parameters(), lr=1e-3)
    with pytest.raises(DeepscopeError, match="positive"):
        build_optimizer("sgd", model.parameters(), lr=0.0)
    with pytest.raises(DeepscopeError, match="momentum"):
        build_optimizer("adam", model.parameters(), lr=1e-3, momentum=0.9)


def test_zero_grad_keeps_the_gradient_views():
    model, _ = _pair()
    opt = build_optimizer("adam", model.parameters(), lr=1e-3)
    torch.nn.functional.cross_entropy(model(torch.randn(4, 6)), torch.tensor([0, 1, 2, 0])).backward()
    assert float(opt.flat.param.grad.abs().sum()) > 0
    opt.zero_grad()                       # the default set_to_none=True must not cut the views loose
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0 for p in model.parameters())
    torch.nn.functional.cross_entropy(model(torch.randn(4, 6)), torch.tensor([0, 1, 2, 0])).backward()
    flat_grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(opt.flat.param.grad, flat_grad)
