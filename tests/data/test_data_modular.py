"""Modular arithmetic equations as tokens (act_ids layout, seeds.md §3.3)."""
import pytest
import torch

from deepscope.data import SubsetTooSmall, load_dataset
from deepscope.errors import DeepscopeError


def decode(x):
    """(a, b) from token rows [a+2, 0, b+2, 1]."""
    assert (x[:, 1] == 0).all() and (x[:, 3] == 1).all()
    return x[:, 0] - 2, x[:, 2] - 2


def test_the_seeds_division_split():
    train = load_dataset("modular", op="/", p=97, frac_train=0.2)
    test = load_dataset("modular", op="/", p=97, frac_train=0.2, split="test")
    assert len(train) == 1862 and len(test) == 7450 and len(train) + len(test) == 9312
    assert train.kind == "tokens" and train.x.dtype == torch.int64 and train.x.shape == (1862, 4)
    assert train.vocab_size == 99 and train.num_classes == 97 and train.class_names[5] == "5"
    assert train.meta["tokens"][:3] == ["/", "=", "0"] and len(train.meta["tokens"]) == 99
    a, b = decode(train.x)
    assert int(b.min()) == 1 and int(a.min()) == 0 and int(a.max()) == 96
    assert ((train.y * b) % 97 == a).all()                      # c = a / b: c * b = a (mod 97)


def pow_inverse(b):
    """b^(p-2) mod p for p = 11 (Fermat)."""
    return torch.tensor([pow(int(v), 9, 11) for v in b])


@pytest.mark.parametrize("op, rule, count", [
    ("+", lambda a, b: (a + b) % 11, 121), ("-", lambda a, b: (a - b) % 11, 121),
    ("*", lambda a, b: (a * b) % 11, 121), ("/", lambda a, b: (a * pow_inverse(b)) % 11, 110),
])
def test_every_op_labels_and_covers_all_equations(op, rule, count):
    train = load_dataset("modular", op=op, p=11, frac_train=0.3, seed=2)
    test = load_dataset("modular", op=op, p=11, frac_train=0.3, seed=2, split="test")
    assert len(train) == int(0.3 * count) and len(train) + len(test) == count
    pairs = set()
    for data in (train, test):
        a, b = decode(data.x)
        assert torch.equal(data.y, rule(a, b))
        pairs |= set(zip(a.tolist(), b.tolist()))
    assert len(pairs) == count                                   # disjoint splits, every equation once


def test_split_is_seeded():
    a = load_dataset("modular", op="+", p=13, seed=0)
    b = load_dataset("modular", op="+", p=13, seed=0)
    c = load_dataset("modular", op="+", p=13, seed=1)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


def test_token_pipeline_rules_and_one_hot():
    data = load_dataset("modular", op="+", p=5, frac_train=0.6)
    one_hot = data.one_hot()
    assert one_hot.shape == (15, 4 * 7) and one_hot.dtype == torch.float32
    assert torch.equal(one_hot.reshape(15, 4, 7).argmax(-1), data.x) and (one_hot.sum(1) == 4).all()
    with pytest.raises(DeepscopeError, match="normalize standardises real-valued inputs.*token ids"):
        load_dataset("modular", op="+", p=5, normalize=True)
    with pytest.raises(DeepscopeError, match="grayscale/size apply to images.*tokens"):
        load_dataset("modular", op="+", p=5, size=4)
    with pytest.raises(SubsetTooSmall, match="n=50 would leave classes empty.*97 classes.*classes="):
        load_dataset("modular", n=50)
    small = load_dataset("modular", op="+", p=5, frac_train=0.6, n=10, seed=1)
    assert torch.bincount(small.y, minlength=5).min() >= 1        # stratified: every class kept


@pytest.mark.parametrize("options, message", [
    (dict(op="^"), "op must be one of"), (dict(p=1), "p .the modulus. must be an integer >= 2"),
    (dict(op="/", p=10), "needs a prime p"), (dict(frac_train=1.0), "frac_train must be"),
    (dict(op="+", p=3, frac_train=0.05), "leaves the train split empty"),
])
def test_bad_options(options, message):
    with pytest.raises(DeepscopeError, match=message):
        load_dataset("modular", **options)
