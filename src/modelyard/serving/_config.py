"""Deployments: what a scoring server serves, read from YAML or made from one model URI.

```yaml
endpoints:
  - name: credit
    routes:                       # weighted A/B between aliases or versions
      - {name: champion, model: "models:/credit@champion", weight: 90}
      - {name: challenger, model: "models:/credit@challenger", weight: 10}
    shadow:                       # scored and logged, never returned
      - {name: candidate, model: "models:/credit/7"}
    sticky_key: applicant_id      # same key, same route
    batching: {max_batch: 64, max_wait_ms: 2}   # optional: concurrent small requests scored together
    features: {repo: ./feature_repo, service: credit_v1}   # optional enrichment
auth:
  tokens:
    - {name: web, sha256: "<sha256 of the token>", scopes: [predict, feedback]}
prediction_log: {enabled: true, path: ./predictions}
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from modelyard.core.errors import ValidationError
from modelyard.core.uris import parse_models_uri

SCOPES = ("predict", "feedback", "metrics", "read")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteConfig(_Strict):
    model: str = Field(description="models:/name/3, models:/name@alias, or a bundle folder")
    name: str | None = None
    weight: float = Field(default=1.0, ge=0)
    engine: Literal["native", "onnx"] = Field(
        default="native", description="onnx: score with the ONNX graph saved beside the model"
    )

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.model.startswith("models:"):
            ref = parse_models_uri(self.model)
            return ref.alias or (str(ref.version) if ref.version else "latest")
        return Path(self.model).name


class FeaturesConfig(_Strict):
    repo: str = "."
    service: str
    online_store: str | None = None


class BatchingConfig(_Strict):
    """Adaptive micro-batching of one endpoint's small requests (see ``_batcher.py``)."""

    max_batch: int = Field(default=64, gt=0, le=100_000, description="rows scored by one model call at most")
    max_wait_ms: float = Field(
        default=2.0, ge=0, le=10_000, description="how long a request may wait for others to join its batch"
    )
    max_queue: int = Field(
        default=1000, gt=0, description="requests waiting or being scored in batches, per worker; past it 503"
    )


class EndpointConfig(_Strict):
    name: str
    routes: list[RouteConfig] = Field(min_length=1)
    shadow: list[RouteConfig] = Field(default_factory=list)
    sticky_key: str | None = None
    features: FeaturesConfig | None = None
    explain: bool = True
    max_rows: int = Field(default=10_000, gt=0)
    batching: BatchingConfig | None = Field(default=None, description="off unless given")

    @pydantic.field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '_', '.', '-' (at most 64)")
        return value

    @pydantic.model_validator(mode="after")
    def _check_routes(self) -> EndpointConfig:
        if sum(r.weight for r in self.routes) <= 0:
            raise ValueError("route weights must add up to more than 0")
        labels = [r.label for r in [*self.routes, *self.shadow]]
        if len(set(labels)) != len(labels):
            raise ValueError(f"route names must be unique, got {labels}; give each a 'name'")
        return self


Scope = Literal["predict", "feedback", "metrics", "read"]


def _default_scopes() -> list[Scope]:
    return ["predict"]


class TokenConfig(_Strict):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(default_factory=_default_scopes)


class AuthConfig(_Strict):
    tokens: list[TokenConfig] = Field(min_length=1)


class PredictionLogConfig(_Strict):
    enabled: bool = True
    path: str | None = None  # default: <home>/predictions
    queue_size: int = Field(
        default=100_000, gt=0, description="requests and feedback items waiting to be written"
    )
    queue_bytes: int = Field(
        default=256 << 20, gt=0, description="memory the waiting items may hold"
    )
    flush_seconds: float = Field(
        default=1.0, gt=0, description="how often the queue is written: what a kill -9 can lose"
    )


class DeploymentConfig(_Strict):
    endpoints: list[EndpointConfig] = Field(min_length=1)
    auth: AuthConfig | None = None
    cors_origins: list[str] = Field(default_factory=list)
    prediction_log: PredictionLogConfig = PredictionLogConfig()
    max_body_bytes: int = Field(default=4 << 20, gt=0)
    score_threads: int = Field(default=4, gt=0, description="model calls running at once, off the event loop")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="from a connection's first byte to the end of its headers; then 408 and closed"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="from the end of the headers to the end of the body; then 408 and closed"
    )
    max_connections: int = Field(default=1000, gt=0, description="per worker; past it new requests get 503")
    offload_bytes: int = Field(
        default=16 << 10, ge=0, description="bodies larger than this are decoded and scored in the thread pool"
    )
    poll_seconds: float = Field(default=2.0, gt=0)

    @pydantic.model_validator(mode="after")
    def _unique(self) -> DeploymentConfig:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique, got {names}")
        return self

    def endpoint(self, name: str) -> EndpointConfig | None:
        return next((e for e in self.endpoints if e.name == name), None)


def _explain(error: pydantic.ValidationError, source: str) -> ValidationError:
    lines = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
    return ValidationError(f"{source}: " + "; ".join(lines))


def parse_deployment(data: Any, source: str = "deployment") -> DeploymentConfig:
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: expected a mapping with 'endpoints', got {type(data).__name__}")
    try:
        return DeploymentConfig.model_validate(data)
    except pydantic.ValidationError as error:
        raise _explain(error, source) from None


def load_deployment(target: str) -> tuple[DeploymentConfig, Path | None]:
    """A deployment from a YAML file, or a one-route deployment for a model URI or bundle
    folder (the endpoint is named after the model)."""
    path = Path(target)
    if target.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ValidationError(f"deployment file {target} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ValidationError(f"{target}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
        return parse_deployment(data, str(target)), path.resolve()
    if target.startswith("models:"):
        name = parse_models_uri(target).name
    elif path.is_dir():
        name = path.resolve().name
    else:
        raise ValidationError(
            f"{target!r} is neither a models:/ URI, a bundle folder nor a deployment .yaml file"
        )
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64] or "model"
    return parse_deployment({"endpoints": [{"name": safe, "routes": [{"model": target}]}]}), None
