"""What a running server holds: endpoints, their routes and the model each route serves now.

A route's scorer is swapped by plain assignment: a request reads ``route.scorer`` once and
keeps that object until it has answered, so the old version lives exactly as long as its
in-flight requests and no request ever sees half a swap. A watcher thread polls the
registry (one indexed query per route) and the deployment file; a new version is fetched,
verified, loaded and warmed in the background before it is swapped in.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.core.errors import ModelyardError, NotFoundError, ValidationError
from modelyard.core.uris import parse_models_uri
from modelyard.data._predlog_packed import Layout
from modelyard.flavors import MANIFEST, load_bundle
from modelyard.registry import Client
from modelyard.serving._config import DeploymentConfig, EndpointConfig, RouteConfig, load_deployment
from modelyard.serving._scorer import Scorer, load_scorer

log = logging.getLogger("modelyard.serving")


def _folder_digest(folder: Path) -> str:
    return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()


class Route:
    def __init__(self, config: RouteConfig, scorer: Scorer, shadow: bool = False) -> None:
        self.config = config
        self.label = config.label
        self.scorer = scorer
        self.shadow = shadow
        # how the prediction log packs this route's single-row requests, and the scorer it
        # was made for (``_predlog_packed.layout``)
        self.log_header: Layout | None = None


class Endpoint:
    """One endpoint: weighted routes, shadow routes, optional sticky key and features."""

    def __init__(self, config: EndpointConfig, routes: list[Route], shadows: list[Route]) -> None:
        self.config = config
        self.name = config.name
        self.routes = routes
        self.shadows = shadows
        total = sum(r.config.weight for r in routes)
        bounds, acc = [], 0.0
        for route in routes:
            acc += route.config.weight / total
            bounds.append(acc)
        bounds[-1] = 1.0
        self._bounds = bounds
        self.features: Any = None  # (FeatureStore, FeatureService, join keys) when enriched
        self.local_features = False  # its online store is in this process (SQLite): no waiting on a network
        self._counter = 0

    def choose(self, key: Any = None) -> Route:
        """The route for a request: by a stable hash of ``key`` when given (sticky), else
        by weighted rotation (deterministic, so a 90/10 split is 90/10 over any 10 calls)."""
        if len(self.routes) == 1:
            return self.routes[0]
        if key is not None:
            point = zlib.crc32(str(key).encode("utf-8")) / 0xFFFFFFFF
        else:
            self._counter = (self._counter + 1) % 1_000_003
            point = ((self._counter * 0.6180339887498949) % 1.0)
        for route, bound in zip(self.routes, self._bounds, strict=True):
            if point <= bound:
                return route
        return self.routes[-1]

    def route_for_version(self, version: str) -> Route | None:
        for route in self.routes:
            if route.scorer.label == version or route.label == version:
                return route
        return None

    @property
    def entity_keys(self) -> list[str]:
        keys = [self.config.sticky_key] if self.config.sticky_key else []
        if self.features is not None:
            keys += [k for k in self.features[2] if k not in keys]
        return keys


def _in_process(store: Any) -> bool:
    """Whether a feature store's online lookups stay in this process (SQLite), rather than
    waiting on a server (Redis)."""
    from modelyard.features import SqliteOnlineStore

    return isinstance(store.online_store, SqliteOnlineStore)


class Runtime:
    """The loaded deployment and the thread that keeps it current."""

    def __init__(
        self,
        target: str,
        *,
        tracking_uri: str | None = None,
        on_swap: Callable[[Endpoint, Route, Scorer], None] | None = None,
        on_load: Callable[[Endpoint, Route, Scorer], None] | None = None,
    ) -> None:
        self.target = target
        self._tracking_uri = tracking_uri
        self._client: Client | None = None
        self.on_swap = on_swap
        self.on_load = on_load
        self.config, self.path = load_deployment(target)
        self._mtime = self.path.stat().st_mtime_ns if self.path is not None else None
        self.endpoints = self._build(self.config, {})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.swaps = 0

    # -- loading -------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self._tracking_uri)
        return self._client

    def _load(self, config: RouteConfig, known: dict[str, Scorer]) -> Scorer:
        started = time.perf_counter()
        text = config.model
        if text.startswith("models:"):
            peeked = self.client.peek(text)
            if peeked is None:
                self.client.resolve(text)  # raises the error that says what is missing
                raise NotFoundError(f"{text} names no loadable version")
            version, digest = peeked
            key = f"{digest}:{config.engine}"
            if key in known:
                return known[key]
            name = parse_models_uri(text).name
            model = self.client.load_model(f"models:/{name}/{version}", engine=config.engine)
            return load_scorer(model, name, version, text, digest, started)
        folder = Path(text)
        if self.path is not None and not folder.is_absolute():
            folder = self.path.parent / folder
        if not (folder / MANIFEST).is_file():
            raise ValidationError(f"route model {text!r} is neither a models:/ URI nor a bundle folder with {MANIFEST}")
        digest = _folder_digest(folder)
        if f"{digest}:{config.engine}" in known:
            return known[f"{digest}:{config.engine}"]
        model = load_bundle(folder, trusted=True, engine=config.engine)
        return load_scorer(model, folder.name, None, str(folder), digest, started)

    def _build(self, config: DeploymentConfig, known: dict[str, Scorer]) -> dict[str, Endpoint]:
        endpoints: dict[str, Endpoint] = {}
        for ec in config.endpoints:
            routes = [Route(rc, self._load(rc, known)) for rc in ec.routes]
            shadows = [Route(rc, self._load(rc, known), shadow=True) for rc in ec.shadow]
            endpoint = Endpoint(ec, routes, shadows)
            if ec.features is not None:
                endpoint.features = self._features(ec)
                endpoint.local_features = _in_process(endpoint.features[0])
            endpoints[ec.name] = endpoint
            for route in [*routes, *shadows]:
                if self.on_load is not None:
                    self.on_load(endpoint, route, route.scorer)
        return endpoints

    def _features(self, ec: EndpointConfig) -> tuple[Any, Any, list[str]]:
        from modelyard.features import FeatureStore

        assert ec.features is not None
        repo = Path(ec.features.repo)
        if self.path is not None and not repo.is_absolute():
            repo = self.path.parent / repo
        store = FeatureStore(repo_path=repo, tracking_uri=self._tracking_uri, online_store=ec.features.online_store)
        service = store.get_feature_service(ec.features.service)
        keys: list[str] = []
        for projection in service.features:
            for key in projection.view.join_keys:
                if key not in keys:
                    keys.append(key)
        return store, service, keys

    # -- keeping current -----------------------------------------------------------------

    def refresh(self) -> int:
        """Check every route and the deployment file once; returns how many routes swapped."""
        swapped = 0
        if self.path is not None:
            mtime: int | None
            try:
                mtime = self.path.stat().st_mtime_ns
            except OSError:
                mtime = self._mtime
            if mtime != self._mtime:
                self._mtime = mtime
                try:
                    config, _ = load_deployment(str(self.path))
                    known = {
                        f"{r.scorer.digest}:{r.config.engine}": r.scorer
                        for e in self.endpoints.values()
                        for r in [*e.routes, *e.shadows]
                    }
                    self.endpoints = self._build(config, known)
                    self.config = config
                    swapped += 1
                    log.warning("deployment %s reloaded", self.path)
                except ModelyardError as error:
                    log.error("deployment %s not reloaded, still serving the old one: %s", self.path, error)
        for endpoint in list(self.endpoints.values()):
            for route in [*endpoint.routes, *endpoint.shadows]:
                text = route.config.model
                if not text.startswith("models:"):
                    continue
                try:
                    peeked = self.client.peek(text)
                    if peeked is None or peeked[1] == route.scorer.digest:
                        continue
                    fresh = self._load(route.config, {})
                except Exception as error:  # keep serving the old version
                    log.error("route %s/%s: new version not loaded: %s", endpoint.name, route.label, error)
                    continue
                old = route.scorer
                route.scorer = fresh
                swapped += 1
                self.swaps += 1
                log.warning(
                    "endpoint %s route %s: version %s -> %s", endpoint.name, route.label, old.label, fresh.label
                )
                if self.on_swap is not None:
                    self.on_swap(endpoint, route, fresh)
        return swapped

    def start(self, poll_seconds: float) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(poll_seconds):
                try:
                    self.refresh()
                except Exception:
                    log.exception("refresh failed; serving on")

        self._thread = threading.Thread(target=loop, name="modelyard-swap-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
