"""Read a CloudFormation template written in YAML with short-form intrinsic tags.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}`` and
every other ``!Tag`` becomes ``{"Fn::Tag": value}``, the same structure as the JSON form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE_FILE = Path(__file__).with_name("template.yaml")


class _CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation's short-form tags."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_FILE) -> dict[str, Any]:
    """The template as plain dicts and lists."""
    try:
        document = yaml.load(path.read_text(), Loader=_CfnLoader)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"CloudFormation template {path} not found") from exc
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template: it has no Resources section")
    return document
