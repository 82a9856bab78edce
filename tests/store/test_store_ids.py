import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from deepscope.errors import DeepscopeError
from deepscope.store import canonical_config, run_id


@dataclass
class Optim:
    lr: float = 0.1
    betas: tuple = (0.9, 0.999)


class Act(enum.Enum):
    RELU = "relu"


@dataclass
class Config:
    width: int = 64
    optim: Optim = field(default_factory=Optim)
    act: Act = Act.RELU
    data: Path = Path("/data/mnist")


def test_id_ignores_key_order_and_is_16_hex():
    a = run_id("esl", {"a": 1, "b": {"x": 2.5, "y": [1, 2]}})
    b = run_id("esl", {"b": {"y": [1, 2], "x": 2.5}, "a": 1})
    assert a == b
    assert len(a) == 16 and int(a, 16) >= 0


def test_id_pins_the_hashed_text():
    # The id is sha256 of the stable JSON of {study, config}: sorted keys, no spaces, floats in repr form.
    text = '{"config":{"lr":0.1,"steps":[1,2]},"study":"esl"}'
    assert run_id("esl", {"steps": (1, 2), "lr": 0.1}) == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_id_changes_with_value_study_and_seed():
    base = run_id("esl", {"lr": 0.1})
    assert run_id("esl", {"lr": 0.2}) != base
    assert run_id("nc", {"lr": 0.1}) != base
    assert run_id("esl", {"lr": 0.1}, seed=0) != base
    assert run_id("esl", {"lr": 0.1}, seed=0) != run_id("esl", {"lr": 0.1}, seed=1)


def test_seed_given_either_way_gives_one_id():
    assert run_id("esl", {"lr": 0.1, "seed": 3}) == run_id("esl", {"lr": 0.1, "seed": 3}, seed=3)
    with pytest.raises(DeepscopeError, match="disagrees"):
        run_id("esl", {"seed": 3}, seed=4)
    with pytest.raises(DeepscopeError, match="seed must be an int"):
        run_id("esl", {}, seed=1.5)


def test_dataclass_config_is_canonical_dict():
    plain = canonical_config(Config())
    assert plain == {"width": 64, "optim": {"lr": 0.1, "betas": [0.9, 0.999]}, "act": "relu",
                     "data": "/data/mnist"}
    assert run_id("esl", Config()) == run_id("esl", plain)
    assert run_id("esl", Config(width=65)) != run_id("esl", Config())


def test_numpy_scalars_are_plain_numbers():
    plain = canonical_config({"lr": np.float32(0.5), "n": np.int64(3), "flag": np.bool_(True)})
    assert plain == {"lr": 0.5, "n": 3, "flag": True}
    assert [type(v) for v in plain.values()] == [float, int, bool]
    assert run_id("s", {"n": np.int64(3)}) == run_id("s", {"n": 3})


def test_bad_configs_say_where_and_what():
    with pytest.raises(DeepscopeError, match=r"config\.opt\.tags is a set"):
        canonical_config({"opt": {"tags": {1, 2}}})
    with pytest.raises(DeepscopeError, match="non-string key 1"):
        canonical_config({1: "a"})
    with pytest.raises(DeepscopeError, match="dataclass instance or a dict"):
        canonical_config([("lr", 0.1)])
    with pytest.raises(DeepscopeError, match="study must be a non-empty string"):
        run_id("", {})
