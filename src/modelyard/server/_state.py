"""What every request of the team server shares: its settings, the services over the store,
the authorizer and the write audit. Nothing here holds per-request state, so replicas behind
a load balancer give the same answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from modelyard.artifacts import ContentAddressedStore
from modelyard.core.errors import ConfigurationError
from modelyard.registry import Client
from modelyard.server._config import ServerConfig
from modelyard.store import SqlStore

if TYPE_CHECKING:
    from collections.abc import Mapping

    from modelyard.server._operations import Operation


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sends a request: a user and their global role (``authenticated`` False with
    ``--auth none``, where the client's own user name is believed)."""

    name: str
    role: str
    authenticated: bool = True
    grants: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)


class Auth(Protocol):
    def authenticate(self, headers: Mapping[str, str]) -> Principal: ...

    def authorize(self, principal: Principal, op: Operation, params: Mapping[str, str]) -> None: ...

    def can(self, principal: Principal, level: str, kind: str, resource_id: str) -> bool: ...

    def require(self, principal: Principal, level: str, kind: str, resource_id: str) -> None: ...


class Audit(Protocol):
    def add(self, actor: str, operation: str, target: str, status: int) -> None: ...

    def flush(self) -> None: ...


@dataclass
class ServerState:
    config: ServerConfig
    client: Client
    auth: Auth
    audit: Audit

    @property
    def store(self) -> SqlStore:
        store = self.client.store
        if not isinstance(store, SqlStore):
            raise ConfigurationError(_NOT_A_SERVER)
        return store

    @property
    def blobs(self) -> ContentAddressedStore:
        blobs = self.client.blobs
        if not isinstance(blobs, ContentAddressedStore):
            raise ConfigurationError(_NOT_A_SERVER)
        return blobs


_NOT_A_SERVER = (
    "the team server's backend store is another team server (an http:// URI); give it the "
    "database itself: --backend-store-uri postgresql://... or sqlite:///path.db"
)
