from dataclasses import dataclass
from typing import ClassVar, Literal, Optional

import pytest

from tcrbench.errors import UsageError
from tcrbench.plugins.params import build_params, param, param_specs, param_values, split_spec


@dataclass
class Demo:
    name: ClassVar[str] = "demo"
    description: ClassVar[str] = "a demo"
    p: float = param(0.15, help="probability")
    n: int = 3
    bert: bool = False
    region: Literal["peptide", "tcr", "both"] = "both"
    tag: Optional[str] = None


def test_split_spec_parses_name_and_values():
    assert split_spec("mask:p=0.2,bert=true") == ("mask", {"p": "0.2", "bert": "true"})
    assert split_spec(" mask1 ") == ("mask1", {})


@pytest.mark.parametrize("text,message", [
    ("mask:p", "must look like key=value"),
    ("mask:p=1,p=2", "given twice"),
    (":p=1", "empty plugin name"),
])
def test_split_spec_rejects_malformed(text, message):
    with pytest.raises(UsageError, match=message):
        split_spec(text)


def test_build_params_coerces_types():
    out = build_params(Demo, {"p": "0.2", "n": "5", "bert": "yes", "region": "tcr", "tag": "none"}, "demo")
    assert out == {"p": 0.2, "n": 5, "bert": True, "region": "tcr", "tag": None}
    assert Demo(**out).p == 0.2


@pytest.mark.parametrize("values,message", [
    ({"pp": "1"}, r"unknown parameter 'pp'.*did you mean 'p'"),
    ({"p": "high"}, "parameter 'p': expected a number, got 'high'"),
    ({"n": "2.5"}, "parameter 'n': expected an integer"),
    ({"bert": "maybe"}, "expected true or false"),
    ({"region": "tcrs"}, r"must be one of 'peptide', 'tcr', 'both', got 'tcrs' \(did you mean 'tcr'\?\)"),
])
def test_build_params_names_bad_key_or_value(values, message):
    with pytest.raises(UsageError, match=message):
        build_params(Demo, values, "augmentation 'demo'")


def test_param_specs_and_values_report_types_defaults_and_help():
    specs = {s.name: s for s in param_specs(Demo)}
    assert specs["p"].help == "probability" and specs["p"].default == 0.15 and specs["p"].type_name == "float"
    assert specs["region"].type_name == "'peptide' | 'tcr' | 'both'"
    assert specs["tag"].type_name == "str | None"
    assert param_values(Demo(p=0.3)) == {"p": 0.3, "n": 3, "bert": False, "region": "both", "tag": None}
