"""The team server's settings: where the store is, how clients authenticate, and the limits
every request is held to."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelyard.core.errors import ConfigurationError

MiB = 1 << 20


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerConfig(BaseModel):
    """``modelyard server``'s options (each also an environment variable of the workers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend_store_uri: str | None = Field(
        default=None, description="metadata store (default: $MODELYARD_TRACKING_URI or ./.modelyard)"
    )
    artifacts_destination: str | None = Field(
        default=None, description="where artifacts are kept: a folder or s3://bucket/prefix"
    )
    host: str = "127.0.0.1"
    auth: Literal["token", "none"] = "token"
    max_body_bytes: int = Field(default=32 * MiB, gt=0, description="JSON bodies")
    max_artifact_bytes: int = Field(default=8192 * MiB, gt=0, description="one uploaded file")
    body_timeout_seconds: float = Field(default=60.0, gt=0)
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    cors_origins: tuple[str, ...] = ()
    token_cache_seconds: float = Field(default=10.0, ge=0, description="how long a revoked token may still pass")
    audit_flush_seconds: float = Field(default=1.0, gt=0)
    request_log_hours: float = Field(default=24.0, gt=0, description="how long retried writes are recognised")

    @model_validator(mode="after")
    def _auth_off_only_on_loopback(self) -> ServerConfig:
        if self.auth == "none" and not is_loopback(self.host):
            raise ConfigurationError(
                f"--auth none is refused on host {self.host!r}: without tokens anyone who reaches "
                "the port can read and change everything. Listen on 127.0.0.1, or keep --auth token "
                "and create users with `modelyard users create NAME --role ROLE`"
            )
        return self
