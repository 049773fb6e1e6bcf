"""``log_config``: a YAML, OmegaConf or Hydra config as params plus the file itself."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from modelyard.core.entities import Param
from modelyard.core.errors import ValidationError

if TYPE_CHECKING:
    from modelyard.tracking._client import Client


def _to_container(cfg: Any) -> tuple[dict[str, Any], str | None]:
    """The config as plain data, and its original text when it came from a file."""
    if isinstance(cfg, str | os.PathLike):
        path = Path(cfg)
        if not path.is_file():
            raise ValidationError(f"config file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValidationError(
                f"config file {str(path)!r} is not valid YAML: {error}"
            ) from error
        if not isinstance(data, dict):
            raise ValidationError(f"config file {str(path)!r} must hold a mapping at the top level")
        return data, text
    if type(cfg).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        data = OmegaConf.to_container(cfg, resolve=True)
        if not isinstance(data, dict):
            raise ValidationError("log_config needs a mapping config, got a list config")
        return {str(k): val for k, val in data.items()}, None
    if isinstance(cfg, Mapping):
        return dict(cfg), None
    raise ValidationError(
        f"log_config takes a YAML file path, a dict or an OmegaConf/Hydra config, got {type(cfg).__name__}"
    )


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings become dotted keys; lists and scalars become their text."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(value, default=str)
        else:
            flat[name] = "None" if value is None else str(value)
    return flat


def log_config(
    client: Client, run_id: str, cfg: Any, artifact_file: str = "config.yaml"
) -> dict[str, str]:
    """Log every leaf of ``cfg`` as a param (``model.lr``) and keep the config as an artifact."""
    data, text = _to_container(cfg)
    flat = flatten(data)
    client.log_batch(run_id, params=[Param(k, val) for k, val in flat.items()])
    client.log_text(
        run_id, text if text is not None else yaml.safe_dump(data, sort_keys=False), artifact_file
    )
    return flat
