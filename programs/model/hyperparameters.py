"""Training hyperparameters as the SageMaker training toolkit passes them (CLI pairs and SM_HPS)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

BACKBONES = ("scratch", "pretrained-resnet18")


class HyperparameterError(ValueError):
    """A hyperparameter is unknown or has a value of the wrong kind."""


@dataclass(frozen=True)
class Hyperparameters:
    """Every training knob, with defaults that train the scratch CNN in minutes on a CPU.

    ``threads``: torch's intra-op threads (0: the CPUs the job may use); the same data, code,
    hyperparameters, seed and thread count give the same weights. ``new_data_share``: when the job
    starts from the serving model (its ``warmstart`` channel), the share of each epoch's draws that
    are images that model never trained on (0: every image equally often). ``low_light``: with
    ``augment``, the share of training images shown darkened, low in contrast, colour-cast and noisy
    (photometric augmentation against poor light; 0: off). ``warm_start_learning_rate``: the
    learning rate a training from the serving model's weights starts at (0: ``learning_rate``);
    ``warm_start_patience`` its early-stopping patience (0: ``patience``).
    """

    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 0.002
    weight_decay: float = 0.0005
    dropout: float = 0.3
    width: float = 2.0
    augment: bool = True
    patience: int = 4
    seed: int = 42
    backbone: str = "scratch"
    pretrained_weights: str = ""
    threads: int = 0
    new_data_share: float = 0.5
    low_light: float = 0.0
    warm_start_learning_rate: float = 0.0
    warm_start_patience: int = 0

    def starting_learning_rate(self, warm_start: bool) -> float:
        """``warm_start_learning_rate`` when starting from the serving model's weights and it is set, else
        ``learning_rate``."""
        return self.warm_start_learning_rate if warm_start and self.warm_start_learning_rate > 0 else self.learning_rate

    def stopping_patience(self, warm_start: bool) -> int:
        """``warm_start_patience`` when starting from the serving model's weights and it is set, else ``patience``."""
        return self.warm_start_patience if warm_start and self.warm_start_patience > 0 else self.patience

    def as_dict(self) -> dict[str, Any]:
        """The values keyed by their SageMaker names (dashes)."""
        return {name.replace("_", "-"): value for name, value in asdict(self).items()}


def decode_value(raw: Any) -> Any:
    """A toolkit value: JSON-encoded for non-strings (10, "10", 0.001, true), else a plain string."""
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return decode_value(value) if isinstance(value, str) and value != raw else value


def coerce(name: str, raw: Any, kind: type) -> Any:
    """Convert a decoded value to the field's type, naming the hyperparameter on failure."""
    value = decode_value(raw)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as error:
        raise HyperparameterError(f"hyperparameter '{name}' has value {raw!r}: expected {kind.__name__}") from error


def parse_cli_pairs(argv: list[str]) -> dict[str, str]:
    """`--name value` pairs (also `--name=value`) into a dict keyed by dashed names."""
    pairs: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("--"):
            raise HyperparameterError(f"argument {token!r} is not a '--name value' pair: pass --{token} VALUE")
        name = token[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            index += 1
        elif index + 1 < len(argv):
            value = argv[index + 1]
            index += 2
        else:
            raise HyperparameterError(f"hyperparameter '{name}' has no value: pass --{name} VALUE")
        pairs[name.replace("_", "-")] = value
    return pairs


def is_platform_hyperparameter(name: str) -> bool:
    """Entries SageMaker itself adds (sagemaker_program, _tuning_objective_metric, ...), not ours."""
    return name.startswith(("sagemaker-", "sagemaker_", "_", "-"))


def resolve_hyperparameters(argv: list[str], environ: dict[str, str] | None = None) -> Hyperparameters:
    """Defaults, overridden by SM_HPS, overridden by command-line pairs."""
    environ = os.environ if environ is None else environ
    raw_values: dict[str, Any] = {}
    if environ.get("SM_HPS"):
        try:
            raw_values.update({key.replace("_", "-"): value for key, value in json.loads(environ["SM_HPS"]).items()})
        except (json.JSONDecodeError, AttributeError) as error:
            raise HyperparameterError(f"SM_HPS is not a JSON object: {error}") from error
    raw_values.update(parse_cli_pairs(argv))
    raw_values = {name: value for name, value in raw_values.items() if not is_platform_hyperparameter(name)}
    kinds = {field.name.replace("_", "-"): field.type for field in fields(Hyperparameters)}
    type_of = {"int": int, "float": float, "bool": bool, "str": str}
    unknown = sorted(set(raw_values) - set(kinds))
    if unknown:
        raise HyperparameterError(
            f"unknown hyperparameter(s) {', '.join(unknown)}: supported are {', '.join(sorted(kinds))}"
        )
    values = {name.replace("-", "_"): coerce(name, raw, type_of[str(kinds[name])]) for name, raw in raw_values.items()}
    hyperparameters = Hyperparameters(**values)
    validate(hyperparameters)
    return hyperparameters


def validate(hyperparameters: Hyperparameters) -> None:
    """Refuse values that cannot train."""
    if hyperparameters.backbone not in BACKBONES:
        raise HyperparameterError(
            f"hyperparameter 'backbone' is {hyperparameters.backbone!r}: choose one of {', '.join(BACKBONES)}"
        )
    for name in ("epochs", "batch_size", "learning_rate", "width"):
        if getattr(hyperparameters, name) <= 0:
            raise HyperparameterError(f"hyperparameter '{name.replace('_', '-')}' must be positive")
    if not 0.0 <= hyperparameters.dropout < 1.0:
        raise HyperparameterError("hyperparameter 'dropout' must be in [0, 1)")
    if hyperparameters.threads < 0:
        raise HyperparameterError("hyperparameter 'threads' must be 0 (the job's CPUs) or a positive count")
    if not 0.0 <= hyperparameters.new_data_share < 1.0:
        raise HyperparameterError("hyperparameter 'new-data-share' must be in [0, 1)")
    if hyperparameters.warm_start_patience < 0:
        raise HyperparameterError("hyperparameter 'warm-start-patience' must be 0 (patience) or positive")
    if hyperparameters.warm_start_learning_rate < 0:
        raise HyperparameterError("hyperparameter 'warm-start-learning-rate' must be 0 (learning-rate) or positive")
    if not 0.0 <= hyperparameters.low_light <= 1.0:
        raise HyperparameterError("hyperparameter 'low-light' must be in [0, 1]")
