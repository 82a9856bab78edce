import dataclasses

import pytest

from deepscope.config import ConfigError, build, defaults, parse_text, read_yaml, setting, validate
from deepscope.errors import DeepscopeError


def _known(name: str) -> None:
    if name == "bad":
        raise DeepscopeError("is not a known name")


@dataclasses.dataclass
class Toy:
    lr: float = setting(0.1, "learning rate", gt=0)
    epochs: int = setting(3, "epochs", min=1)
    p: float = setting(0.0, "dropout", min=0, lt=1)
    opt: str = setting("adam", "optimizer", choices=("adam", "sgd"))
    widths: list[int] | None = setting(None, "widths", item_min=1, distinct=True)
    tags: list[str] = setting([], "tags", nonempty=False)
    stop: float | None = setting(None, "stop loss", gt=0)
    flag: bool = setting(True, "a switch")
    name: str = setting("x", "a name", check=_known)


def test_parse_text_by_field_type():
    assert parse_text(Toy, "lr", "1e-3") == 1e-3
    assert parse_text(Toy, "epochs", "7") == 7
    assert parse_text(Toy, "widths", "100,50") == [100, 50]
    assert parse_text(Toy, "widths", "none") is None
    assert parse_text(Toy, "widths", "") == []
    assert parse_text(Toy, "flag", "No") is False
    for field, text in (("epochs", "1.5"), ("lr", "abc"), ("widths", "100,,50"), ("flag", "maybe")):
        with pytest.raises(ValueError):
            parse_text(Toy, field, text)


def test_validate_names_the_field_and_the_rule():
    cases = {"lr": (-1.0, "must be > 0; got -1"), "epochs": (0, "must be >= 1; got 0"),
             "p": (1.0, "must be < 1; got 1"), "opt": ("rmsprop", "must be one of adam, sgd"),
             "widths": ([], "is empty"), "stop": (-1.0, "must be > 0"), "name": ("bad", "is not a known name")}
    for field, (value, text) in cases.items():
        with pytest.raises(ConfigError) as exc:
            validate(dataclasses.replace(Toy(), **{field: value}))
        assert exc.value.field == field and text in exc.value.problem
        assert str(exc.value.named("--" + field)).startswith("--" + field + " ")
    with pytest.raises(ConfigError, match="finite"):
        validate(Toy(lr=float("nan")))
    with pytest.raises(ConfigError, match="items must be >= 1; got 0"):
        validate(Toy(widths=[3, 0]))
    with pytest.raises(ConfigError, match="must be a whole number"):
        validate(Toy(epochs=2.5))
    with pytest.raises(ConfigError, match=r"lists 4 twice \(\[4, 2, 4\]\)"):
        validate(Toy(widths=[4, 2, 4]))


def test_validate_spells_choices_canonically_and_keeps_valid_configs():
    assert validate(Toy(opt="SGD")).opt == "sgd"
    assert validate(Toy(tags=[])) == Toy(tags=[])
    assert validate(Toy(epochs=2)) == Toy(epochs=2)


def test_build_checks_keys_and_types():
    assert build(Toy, {"lr": 1, "widths": [4]}) == Toy(lr=1.0, widths=[4])
    with pytest.raises(DeepscopeError, match="unknown Toy setting.*'nope'.*in f.yaml"):
        build(Toy, {"nope": 1}, "f.yaml")
    with pytest.raises(ConfigError, match="must be a number; got 'fast'"):
        build(Toy, {"lr": "fast"})
    with pytest.raises(ConfigError, match="must be a whole number; got True"):
        build(Toy, {"epochs": True})
    with pytest.raises(ConfigError, match="cannot be none"):
        build(Toy, {"lr": None})
    assert defaults(Toy)["tags"] == [] and defaults(Toy)["lr"] == 0.1


def test_read_yaml(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("lr: 0.5\nnum-epochs: 2\n")
    assert read_yaml(good) == {"lr": 0.5, "num_epochs": 2}
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "bad.yaml").write_text("lr: [1\n")
    for name, text in (("list.yaml", "mapping"), ("bad.yaml", "not valid YAML"), ("missing.yaml", "no such file")):
        with pytest.raises(DeepscopeError, match=text):
            read_yaml(tmp_path / name)


def test_a_percent_sign_in_help_text_is_printed_as_written():
    import argparse

    from deepscope.config import add_dataclass_arguments

    @dataclasses.dataclass
    class Intervals:
        level: float = setting(0.95, "coverage of the 95% interval", gt=0, lt=1)

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Intervals)
    assert "95% interval" in parser.format_help()
