"""``modelyard.Client``: the tracking client plus the model registry, in MLflow's names."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

from modelyard.core.entities import PagedList
from modelyard.core.errors import (
    GateFailedError,
    IntegrityError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from modelyard.core.ids import now_ms
from modelyard.core.models import (
    CARD_FIELDS,
    AuditEntry,
    ModelInfo,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
    check_alias,
    check_model_name,
)
from modelyard.core.uris import parse_models_uri, parse_runs_uri
from modelyard.flavors import (
    MANIFEST,
    Manifest,
    Model,
    hash_folder,
    load_bundle,
    read_manifest,
    save_model,
)
from modelyard.flavors._manifest import verify_folder
from modelyard.flavors._signature import warn_no_signature
from modelyard.registry import _mlflow_import, _stages, _webhooks
from modelyard.registry._card import Card, render_card
from modelyard.registry._evaluate import EvaluationResult, evaluate
from modelyard.registry._gate import (
    CardCheck,
    ChampionCheck,
    CheckResult,
    Gate,
    LatencyCheck,
    MetricCheck,
    approver_outcome,
    card_outcome,
    champion_outcome,
    complete_card_outcome,
    latency_outcome,
    metric_of,
    metric_outcome,
    parse_gate,
    risk_outcome,
)
from modelyard.registry._loader import fetch_and_load, load_located
from modelyard.registry._options import (
    LogModelOptions,
    RegisterOptions,
    artifact_path_of,
    check_options,
    for_the_version,
)
from modelyard.store import Delivery, RegistryStore, SqlStore, Webhook, WebhookStore
from modelyard.store._remote import HttpRegistryStore, HttpWebhookStore
from modelyard.tracking import Client as TrackingClient
from modelyard.tracking._context import current_user


class Client(TrackingClient):
    """Tracking and the model registry over one store.

    Registry methods follow ``MlflowClient``: ``create_registered_model``,
    ``get_model_version``, ``set_registered_model_alias``, ``search_model_versions`` ...
    plus promotion through gates, evaluation, approvals and model cards.
    """

    @property
    def _registry(self) -> RegistryStore | HttpRegistryStore:
        return self.store.registry

    # -- registered models -------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        risk_category: RiskCategory | str = RiskCategory.MINIMAL,
        owner: str | None = None,
    ) -> RegisteredModel:
        check_model_name(name)
        created = self._registry.ensure_model(
            name,
            description=description,
            owner=owner or current_user(),
            risk_category=RiskCategory.parse(risk_category),
            tags=tags,
            actor=current_user(),
        )
        if not created:
            raise ValidationError(f"registered model {name!r} already exists")
        return self._registry.get_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registry.get_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Registered models matching ``filter_string``, in the run search language over
        ``name``, ``owner``, ``risk_category``, ``creation_timestamp``,
        ``last_updated_timestamp`` and ``tags.<key>``: ``name LIKE 'cred%' and tags.team =
        'risk'``. By name unless ``order_by`` says otherwise (``["last_updated_timestamp
        DESC"]``); the result's ``.token`` fetches the next page."""
        return self._registry.search_models(filter_string, order_by, max_results, page_token)

    def set_registered_model_tag(self, name: str, key: str, value: Any, reason: str = "") -> None:
        """Set a tag on a registered model (checked like run tags; audited)."""
        self._registry.set_tag(name, None, key, value, current_user(), reason)

    def delete_registered_model_tag(self, name: str, key: str, reason: str = "") -> None:
        """Delete a tag of a registered model (audited); NotFoundError if it has no such tag."""
        self._registry.delete_tag(name, None, key, current_user(), reason)

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        risk_category: RiskCategory | str | None = None,
        owner: str | None = None,
    ) -> RegisteredModel:
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if risk_category is not None:
            values["risk_category"] = RiskCategory.parse(risk_category)
        if owner is not None:
            values["owner"] = owner
        self._registry.update_model(name, current_user(), **values)
        return self._registry.get_model(name)

    def set_model_gate(
        self, name: str, gate: Gate | dict[str, Any] | str | os.PathLike[str] | None
    ) -> Gate | None:
        """Declare the gate versions of ``name`` must pass to be promoted (None removes it)."""
        parsed = None if gate is None else parse_gate(gate)
        self._registry.update_model(
            name,
            current_user(),
            gate=None if parsed is None else parsed.model_dump(exclude_defaults=False),
        )
        return parsed

    def get_model_gate(self, name: str) -> Gate | None:
        spec = self._registry.get_model(name).gate
        return None if spec is None else parse_gate(spec)

    # -- registering -------------------------------------------------------------------

    def register_model(
        self, name: str, source: Any, **options: Unpack[RegisterOptions]
    ) -> ModelVersion:
        """Register a new version of ``name`` from ``runs:/<id>/<path>``, a bundle folder, an
        MLflow model folder, or a live model object. Versions are 1, 2, 3 ... per model.

        Registering a bundle folder or a run's bundle only hashes its files. An MLflow folder
        has to be loaded to be converted; a pickled one (cloudpickle or pickle, or a skops
        file holding types skops does not trust) runs code as it loads, so it needs
        ``trusted=True``, as ``load_model`` of a folder does.

        Keywords (any other is a TypeError): for a live model ``input_example``,
        ``signature`` and ``onnx`` (as in ``save_model``: without a signature or an example,
        the signature is read from the fitted model itself; a model with none warns); for the
        version ``description``, ``tags``, ``metrics``, ``params``, ``risk_category``,
        ``card``, ``owner``, ``lineage``, ``run_id`` (the run it came from), and ``trusted``."""
        check_options("register_model", options, RegisterOptions)
        input_example, signature = options.get("input_example"), options.get("signature")
        onnx, run_id = bool(options.get("onnx", False)), options.get("run_id")
        trusted = bool(options.get("trusted", False))
        description = options.get("description") or ""
        tags, metrics, params = options.get("tags"), options.get("metrics"), options.get("params")
        risk_category, card = options.get("risk_category"), options.get("card")
        owner, lineage = options.get("owner"), options.get("lineage")
        check_model_name(name)
        actor = current_user()
        staging: tempfile.TemporaryDirectory[str] | None = None
        try:
            if isinstance(source, str) and source.startswith("runs:"):
                parsed = parse_runs_uri(source)
                run_id = parsed.run_id
                files = self._files_from_run(parsed.run_id, parsed.path)
                source_text = str(parsed)
            else:
                folder: Path
                if isinstance(source, str | os.PathLike):
                    folder = Path(source)
                    if not folder.is_dir():
                        raise ValidationError(
                            f"model source {str(folder)!r} is not a folder, a runs:/ URI or a model object"
                        )
                    source_text = str(folder.absolute())
                    if _mlflow_import.is_mlflow_model(folder):
                        staging = tempfile.TemporaryDirectory(prefix="modelyard-mlflow-")
                        folder = self._convert_mlflow(
                            folder, Path(staging.name) / "bundle", input_example, trusted
                        )
                        source_text = f"mlflow:{source_text}"
                else:
                    staging = tempfile.TemporaryDirectory(prefix="modelyard-register-")
                    folder = Path(staging.name) / "bundle"
                    save_model(
                        source, folder, input_example=input_example, signature=signature, onnx=onnx
                    )
                    source_text = f"object:{type(source).__module__}.{type(source).__name__}"
                files = self._upload_bundle(folder)
            manifest_digest, manifest = self._manifest_of(files)
            version_lineage, run_metrics, run_params = self._lineage(run_id)
            version_lineage.update(lineage or {})
            model = self._ensure_model(name, risk_category, owner, actor)
            version = self._registry.create_version(
                name,
                actor=actor,
                source=source_text,
                run_id=run_id,
                flavor=manifest.flavor,
                manifest_digest=manifest_digest,
                files=files,
                signature=manifest.signature.to_dict() if manifest.signature else None,
                metrics={**run_metrics, **(metrics or {})},
                params={**run_params, **(params or {})},
                tags=tags or {},
                description=description,
                owner=owner or model.owner or actor,
                lineage=version_lineage,
                risk_category=RiskCategory.parse(risk_category)
                if risk_category
                else model.risk_category,
                card={k: v for k, v in (card or {}).items() if _card_field(k)},
            )
        finally:
            if staging is not None:
                staging.cleanup()
        self._events.version_created(version, actor)
        if version.signature is None:
            live = not isinstance(source, str | os.PathLike)
            warn_no_signature(version.uri, source if live else None)
        return version

    def _ensure_model(
        self, name: str, risk: RiskCategory | str | None, owner: str | None, actor: str
    ) -> RegisteredModel:
        self._registry.ensure_model(
            name,
            owner=owner or actor,
            risk_category=RiskCategory.parse(risk) if risk else RiskCategory.MINIMAL,
            actor=actor,
        )
        return self._registry.get_model(name)

    def _convert_mlflow(
        self, folder: Path, target: Path, input_example: Any, trusted: bool
    ) -> Path:
        mlmodel = _mlflow_import.read_mlmodel(folder)
        model = _mlflow_import.load_mlflow_model(folder, mlmodel, trusted=trusted)
        example = (
            input_example
            if input_example is not None
            else _mlflow_import.input_example_of(folder, mlmodel)
        )
        save_model(
            model, target, signature=_mlflow_import.signature_of(mlmodel), input_example=example
        )
        return target

    def _upload_bundle(self, folder: Path) -> dict[str, tuple[str, int]]:
        manifest = read_manifest(folder)  # refuses names that are not bundle paths
        verify_folder(folder, manifest.files)  # the folder is what its manifest says
        extra = set(hash_folder(folder)) - set(manifest.files)
        if extra:
            raise ValidationError(
                f"bundle {str(folder)!r} holds files its manifest does not list: {sorted(extra)[:5]}"
            )
        files: dict[str, tuple[str, int]] = {}
        for rel in [*manifest.files, MANIFEST]:
            files[rel] = self.blobs.put_file(folder / rel)
        return files

    def _files_from_run(self, run_id: str, path: str) -> dict[str, tuple[str, int]]:
        rows = self.store.artifact_rows(run_id, path)
        prefix = f"{path}/" if path else ""
        files = {p[len(prefix) :]: (d, s) for p, d, s in rows if p.startswith(prefix)}
        if MANIFEST not in files:
            raise NotFoundError(
                f"run {run_id!r} has no model bundle at {path!r} (no {MANIFEST}); log one with log_model"
            )
        return files

    def _manifest_of(self, files: Mapping[str, tuple[str, int]]) -> tuple[str, Manifest]:
        """The bundle's manifest, read from its verified blob; its file names are checked
        (``check_bundle_path``) and must be exactly the files recorded beside it."""
        digest = files[MANIFEST][0]
        manifest = Manifest.parse(self.blobs.get_bytes(digest), MANIFEST)
        recorded = {k: v[0] for k, v in files.items() if k != MANIFEST}
        if recorded != manifest.files:
            raise IntegrityError(
                "the bundle's files do not match the hashes in its manifest; it was not registered"
            )
        return digest, manifest

    def _lineage(
        self, run_id: str | None
    ) -> tuple[dict[str, Any], dict[str, float], dict[str, str]]:
        if run_id is None:
            return {}, {}, {}
        run = self.get_run(run_id)
        git = run.context.get("git") or {}
        lineage: dict[str, Any] = {
            "run_id": run_id,
            "experiment_id": run.info.experiment_id,
            "git_commit": git.get("commit"),
            "git_dirty": git.get("dirty"),
            "datasets": [
                {"name": d.name, "digest": d.digest, "context": d.context} for d in run.inputs
            ],
            "feature_service": run.data.tags.get("modelyard.feature_service"),
        }
        return lineage, dict(run.data.metrics), dict(run.data.params)

    def log_model(
        self,
        run_id: str,
        model: Any,
        artifact_path: str | None = None,
        **options: Unpack[LogModelOptions],
    ) -> ModelInfo:
        """Save ``model`` as a bundle among the run's artifacts, at ``artifact_path`` (or
        ``name=``, MLflow 3's spelling; default ``model``); register it as a new version of
        ``registered_model_name`` when that is given.

        Keywords (any other is a TypeError): ``name``, ``registered_model_name``,
        ``input_example``, ``signature``, ``onnx``, ``artifacts`` (files a PythonModel
        needs), and, with ``registered_model_name``, the version's ``description``, ``tags``,
        ``metrics``, ``params``, ``risk_category``, ``card``, ``owner``, ``lineage``. Without a
        signature or an example, the signature is read from the fitted model itself; a model
        with none warns. Returns a ModelInfo: ``model_uri`` (``runs:/...``), and the registered
        version (``registered_model_version``, ``model_version``) when a name was given."""
        check_options("log_model", options, LogModelOptions)
        registered_model_name = options.get("registered_model_name")
        version_options = for_the_version(options, registered_model_name)
        path = artifact_path_of(artifact_path, options.get("name"))
        with tempfile.TemporaryDirectory(prefix="modelyard-log-model-") as tmp:
            folder = Path(tmp) / "bundle"
            manifest = save_model(
                model,
                folder,
                input_example=options.get("input_example"),
                signature=options.get("signature"),
                artifacts=options.get("artifacts"),
                onnx=bool(options.get("onnx", False)),
            )
            self.log_artifacts(run_id, folder, path)
        uri = f"runs:/{run_id}/{path}"
        version = None
        if registered_model_name is None:
            if manifest.signature is None:
                warn_no_signature(uri, model)
        else:
            version = self.register_model(registered_model_name, uri, **version_options)
        return ModelInfo(
            run_id=run_id,
            artifact_path=path,
            model_uri=uri,
            flavor=manifest.flavor,
            signature=manifest.signature,
            registered_model_version=None if version is None else version.version,
            model_version=version,
        )

    # -- reading -----------------------------------------------------------------------

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._registry.get_version(name, _version_number(version))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._registry.get_version(name, self._registry.resolve_alias(name, alias))

    def get_latest_version(self, name: str) -> ModelVersion:
        model = self._registry.get_model(name)
        if model.latest_version is None:
            raise NotFoundError(f"model {name!r} has no versions yet")
        return self._registry.get_version(name, model.latest_version)

    def resolve(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names."""
        parsed = parse_models_uri(uri)
        if parsed.alias:
            return self.get_model_version_by_alias(parsed.name, parsed.alias)
        if parsed.latest:
            return self.get_latest_version(parsed.name)
        assert parsed.version is not None
        return self.get_model_version(parsed.name, parsed.version)

    def peek(self, model_uri: str) -> tuple[int, str] | None:
        """(version, manifest digest) that a ``models:/`` URI names right now, in one cheap
        query — what a server polls to notice an alias move. None when it names nothing
        loadable (no such alias, model or version, or a deleted version)."""
        ref = parse_models_uri(model_uri)
        found = self._registry.locate(ref.name, version=ref.version, alias=ref.alias)
        if found is None or found[1] == VersionState.DELETED.value:
            return None
        return found[0], found[2]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> PagedList:
        """Versions matching ``filter_string``, in the run search language over ``name``,
        ``version_number``, ``run_id``, ``source``, ``state``, ``flavor``, ``owner``,
        ``risk_category``, ``creation_timestamp``, ``last_updated_timestamp``,
        ``tags.<key>``, ``metrics.<key>`` and ``params.<key>``: ``name = 'credit' and
        version_number > 3``, ``run_id IN ('a', 'b')``, ``tags.stage = 'prod'``. By name,
        newest first, unless ``order_by`` says otherwise (``["metrics.auc DESC"]``); the
        result's ``.token`` fetches the next page. Deleted versions only with
        ``include_deleted``."""
        return self._registry.search_versions(
            filter_string, order_by, max_results, page_token, include_deleted=include_deleted
        )

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: Any, reason: str = ""
    ) -> None:
        """Set a tag on a model version (checked like run tags; audited)."""
        self._registry.set_tag(name, _version_number(version), key, value, current_user(), reason)

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, reason: str = ""
    ) -> None:
        """Delete a tag of a model version (audited); NotFoundError if it has no such tag."""
        self._registry.delete_tag(name, _version_number(version), key, current_user(), reason)

    def get_latest_versions(
        self, name: str, stages: list[str] | None = None
    ) -> list[ModelVersion]:
        """MLflow's deprecated stages, read from aliases (FutureWarning; see ``_stages``)."""
        return _stages.latest_versions(self, name, stages)

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """MLflow's deprecated stages, as aliases (FutureWarning; see ``_stages``)."""
        return _stages.transition(self, name, version, stage, archive_existing_versions)

    def get_audit_log(self, name: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        return self._registry.audit_log(name, limit)

    def load_model(
        self, model_uri: str | os.PathLike[str], *, trusted: bool = False, engine: str = "native"
    ) -> Model:
        """Load ``models:/name/3``, ``models:/name@champion``, ``runs:/<id>/model`` or, with
        ``trusted=True``, a bundle folder. Registered bytes are verified before unpickling;
        the second load in a process is served from memory. ``engine="onnx"`` scores with the
        ONNX graph saved beside the model (``onnx=True`` at save time)."""
        text = str(model_uri)
        if text.startswith("models:"):
            model_ref = parse_models_uri(text)
            found = self._registry.locate(
                model_ref.name, version=model_ref.version, alias=model_ref.alias
            )
            if found is None or found[1] == VersionState.DELETED.value:
                version = self.resolve(text)  # raises the error that says what is missing
                if version.state is VersionState.DELETED:
                    raise InvalidStateError(f"{version.uri} is deleted")
                return fetch_and_load(version, self.blobs, version.uri, engine)
            number, _, manifest_digest, files_json = found
            return load_located(
                model_ref.name, number, manifest_digest, files_json, self.blobs, engine
            )
        if text.startswith("runs:"):
            parsed = parse_runs_uri(text)
            files = self._files_from_run(parsed.run_id, parsed.path)
            # the manifest is read (and checked against these files) only after its bytes
            # were verified, in fetch_and_load
            pseudo = _PseudoVersion(manifest_digest=files[MANIFEST][0], files=files, uri=text)
            return fetch_and_load(pseudo, self.blobs, text, engine)  # type: ignore[arg-type]
        return load_bundle(text, trusted=trusted, engine=engine)

    # -- aliases, states, approvals ----------------------------------------------------

    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, reason: str = ""
    ) -> None:
        """Point ``alias`` at ``version`` (atomically, audited). Promotion through a gate is ``promote``."""
        number, actor = _version_number(version), current_user()
        before = self._registry.set_alias(name, check_alias(alias), number, actor, reason)
        self._alias_moved(name, alias, before, number, actor, reason, "set_alias")

    def delete_registered_model_alias(self, name: str, alias: str, reason: str = "") -> None:
        actor = current_user()
        before = self._registry.delete_alias(name, alias, actor, reason)
        self._alias_moved(name, alias, before, None, actor, reason, "delete_alias")

    def _alias_moved(
        self, name: str, alias: str, before: int | None, after: int | None, actor: str, reason: str, action: str
    ) -> None:
        self._events.alias_moved(name, alias, before, after, actor, reason, action)

    def archive_model_version(self, name: str, version: int | str, reason: str = "") -> None:
        self._registry.set_state(
            name, _version_number(version), VersionState.ARCHIVED, current_user(), reason
        )

    def restore_model_version(self, name: str, version: int | str, reason: str = "") -> None:
        self._registry.set_state(
            name, _version_number(version), VersionState.ACTIVE, current_user(), reason
        )

    def delete_model_version(self, name: str, version: int | str, reason: str = "") -> None:
        """Mark a version deleted (its number is never reused; the audit log keeps it)."""
        self._registry.set_state(
            name, _version_number(version), VersionState.DELETED, current_user(), reason
        )

    def update_model_version(
        self,
        name: str,
        version: int | str,
        *,
        description: str | None = None,
        card: dict[str, str] | None = None,
        risk_category: RiskCategory | str | None = None,
        tags: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        reason: str = "",
    ) -> ModelVersion:
        number = _version_number(version)
        current = self._registry.get_version(name, number)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if card is not None:
            values["card"] = {**current.card, **{k: v for k, v in card.items() if _card_field(k)}}
        if risk_category is not None:
            values["risk_category"] = RiskCategory.parse(risk_category)
        if tags is not None:
            values["tags"] = {**current.tags, **tags}
        if metrics is not None:
            values["metrics"] = {**current.metrics, **{k: float(v) for k, v in metrics.items()}}
        return self._registry.update_version(name, number, current_user(), reason, **values)

    def approve_model_version(
        self,
        name: str,
        version: int | str,
        approver: str,
        reason: str = "",
        *,
        note: str | None = None,
    ) -> ModelVersion:
        """Record a named approver and their ``reason`` (needed to promote high-risk
        versions). ``note=`` is the former name of ``reason=``, still accepted."""
        if note is not None:
            if reason and reason != note:
                raise TypeError(
                    "approve_model_version() got both reason= and note=, which differ; note= is "
                    "the former name of reason=: give one"
                )
            reason = note
        if not approver or not approver.strip():
            raise ValidationError("approver is empty; name the person who approves")
        number = _version_number(version)
        current = self._registry.get_version(name, number)
        approvals = [*current.approvals, {"approver": approver, "note": reason, "at": now_ms()}]
        updated = self._registry.update_version(
            name,
            number,
            current_user(),
            f"approved by {approver}" + (f": {reason}" if reason else ""),
            approvals=approvals,
        )
        self._events.approval(name, number, approver, reason, current_user())
        return updated

    # -- gates and promotion -----------------------------------------------------------

    def check_gate(
        self,
        name: str,
        version: int | str,
        alias: str = "champion",
        gate: Gate | dict[str, Any] | str | None = None,
    ) -> list[CheckResult]:
        """Evaluate every check of the gate (and the risk rules) without moving anything."""
        candidate = self._registry.get_version(name, _version_number(version))
        chosen = parse_gate(gate) if gate is not None else self.get_model_gate(name)
        results: list[CheckResult] = []
        if candidate.state is not VersionState.ACTIVE:
            raise InvalidStateError(
                f"version {candidate.version} of {name!r} is {candidate.state.value}; only active versions can be promoted"
            )
        risk = candidate.risk_category
        results.append(risk_outcome(risk))
        if risk is RiskCategory.HIGH:
            missing = [f for f in CARD_FIELDS if not candidate.card.get(f, "").strip()]
            results.append(complete_card_outcome(missing))
            results.append(approver_outcome([a["approver"] for a in candidate.approvals]))
        for check in chosen.checks if chosen else []:
            results.append(self._run_check(check, candidate, alias))
        self._events.gate_result(name, candidate.version, alias, [r.to_dict() for r in results])
        return results

    def _run_check(self, check: Any, candidate: ModelVersion, alias: str) -> CheckResult:
        if isinstance(check, MetricCheck):
            value = metric_of(candidate.metrics, check.metric, f"version {candidate.version}")
            return metric_outcome(check, value)
        if isinstance(check, ChampionCheck):
            value = metric_of(candidate.metrics, check.champion, f"version {candidate.version}")
            try:
                champion = self.get_model_version_by_alias(candidate.name, check.alias)
            except NotFoundError:
                return champion_outcome(check, value, None, None)
            reference = metric_of(
                champion.metrics, check.champion, f"the {check.alias} (version {champion.version})"
            )
            return champion_outcome(check, value, reference, champion.version)
        if isinstance(check, LatencyCheck):
            model = self.load_model(candidate.uri)
            example = self._example(candidate)
            if example is None:
                return latency_outcome(check, None)
            model.predict(example)
            timings = []
            for _ in range(check.repeats):
                started = time.perf_counter()
                model.predict(example)
                timings.append((time.perf_counter() - started) * 1000)
            return latency_outcome(check, statistics.median(timings), check.repeats, len(example))
        if isinstance(check, CardCheck):
            missing = [f for f in check.card if not candidate.card.get(f, "").strip()]
            return card_outcome(check, missing)
        raise ValidationError(f"unknown gate check {check!r}")

    def _example(self, version: ModelVersion) -> Any:
        example = self.load_model(version.uri).example  # read (verified) when it loaded
        return None if example is None else example.copy()

    def promote(
        self,
        name: str,
        version: int | str,
        alias: str = "champion",
        *,
        force: bool = False,
        reason: str = "",
        gate: Any = None,
        actor: str | None = None,
    ) -> list[CheckResult]:
        """Move ``alias`` to ``version`` if the gate passes; else raise GateFailedError listing the
        checks. ``force=True`` (with a ``reason``) overrides a failing gate, and is audited.
        ``actor`` is who the audit names (default: the local user; a server passes its caller)."""
        check_alias(alias)
        number = _version_number(version)
        results = self.check_gate(name, number, alias, gate)
        failed = [r for r in results if not r.passed]
        details = {"checks": [r.to_dict() for r in results]}
        if failed and not force:
            raise GateFailedError(
                f"version {number} of {name!r} failed {len(failed)} of {len(results)} gate checks: "
                + "; ".join(r.detail for r in failed)
                + ". Fix them, or override with force=True and a reason",
                results,
            )
        if failed:
            if not reason.strip():
                raise ValidationError(
                    "a forced promotion needs a reason (it is written to the audit log)"
                )
            if any(r.check == "risk category" for r in failed):
                raise GateFailedError(
                    f"version {number} of {name!r} is of unacceptable risk; it can never be promoted",
                    results,
                )
        action = "promote_forced" if failed else "promote"
        who = actor or current_user()
        before = self._registry.set_alias(name, alias, number, who, reason, action=action, details=details)
        self._alias_moved(name, alias, before, number, who, reason, action)
        return results

    # -- webhooks ------------------------------------------------------------------------

    def _webhook_keeper(self) -> WebhookStore | HttpWebhookStore:
        """Where webhooks are kept: the store's database, or the team server (admins only)."""
        if isinstance(self.store, SqlStore):
            return self.store.webhooks
        return HttpWebhookStore(self.store.transport)

    def create_webhook(self, url: str, events: str | list[str] | tuple[str, ...], secret: str | None = None) -> Webhook:
        """Subscribe ``url`` to registry ``events`` (any of ``version_created``, ``alias_moved``,
        ``approval``, ``gate_result``; a list or a comma-separated string). Deliveries are
        signed with ``secret`` (a new random one when None: read it from the result, it is
        not shown again)."""
        return _webhooks.create_webhook(self._webhook_keeper(), url, events, secret, current_user())

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first (``.to_dict()`` leaves the secret out)."""
        return self._webhook_keeper().find()

    def delete_webhook(self, webhook_id: str) -> None:
        self._webhook_keeper().delete(webhook_id)

    def list_webhook_deliveries(self, webhook_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The latest delivery attempts, newest first (each retry is one attempt)."""
        if limit < 1:
            raise ValidationError(f"limit: must be at least 1, got {limit}")
        return self._webhook_keeper().deliveries(webhook_id, limit)

    def flush_webhooks(self, timeout: float = 30.0) -> bool:
        """Wait until the events sent so far were delivered or given up (False on timeout);
        on a team server, those its replica that answers has queued."""
        if isinstance(self.store, SqlStore):
            return _webhooks.dispatcher(self.store).flush(timeout)
        return HttpWebhookStore(self.store.transport).flush(timeout)

    @property
    def _events(self) -> _webhooks.RegistryEvents:
        """This store's webhook events (a team server's clients send none: the server does)."""
        return _webhooks.RegistryEvents(self.store)

    # -- evaluation and cards ----------------------------------------------------------

    def evaluate_model_version(
        self,
        name: str,
        version: int | str,
        data: Any,
        target: str,
        *,
        slices: Mapping[str, Any] | None = None,
        model_type: Any = None,
    ) -> EvaluationResult:
        """Evaluate the version on labelled data; its metrics, slices and plots are recorded on it."""
        number = _version_number(version)
        model = self.load_model(f"models:/{name}/{number}")
        with tempfile.TemporaryDirectory(prefix="modelyard-eval-") as tmp:
            result = evaluate(
                model, data, target, slices=slices, model_type=model_type, plots_dir=tmp
            )
            plots = {plot: self.blobs.put_file(path)[0] for plot, path in result.plots.items()}
        evaluation = {
            "model_type": result.model_type,
            "metrics": result.metrics,
            "slices": result.slices,
            "plots": plots,
            "rows": len(data),
            "at": now_ms(),
        }
        current = self._registry.get_version(name, number)
        metrics = {**current.metrics, **{k: v for k, v in result.metrics.items() if k != "count"}}
        self._registry.update_version(
            name, number, current_user(), "evaluation", metrics=metrics, evaluation=evaluation
        )
        return result

    def model_card(
        self, name: str, version: int | str, out_dir: str | os.PathLike[str] | None = None
    ) -> Card:
        """The version's card from its current metadata; with ``out_dir``, also written as
        ``<name>-v<version>.md`` and ``.html`` there."""
        v = self._registry.get_version(name, _version_number(version))
        datasets = []
        for item in v.lineage.get("datasets") or []:
            try:
                datasets.append(
                    (
                        self.store.get_dataset_version(item["name"], item["digest"]),
                        item.get("context", ""),
                    )
                )
            except NotFoundError:
                continue
        plots = {
            plot: self.blobs.get_bytes(digest)
            for plot, digest in (v.evaluation.get("plots") or {}).items()
        }
        manifest_data = self._manifest_of(v.files)[1]
        card = render_card(
            v,
            datasets=datasets,
            importance=manifest_data.feature_importance,
            plots=plots,
            audit=[
                e
                for e in self._registry.audit_log(name)
                if e.version in (None, v.version) or e.to_version == v.version
            ],
            framework=f"{manifest_data.framework} {manifest_data.framework_version}",
        )
        if out_dir is not None:
            folder = Path(out_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}-v{v.version}.md").write_text(card.markdown, encoding="utf-8")
            (folder / f"{name}-v{v.version}.html").write_text(card.html, encoding="utf-8")
        return card


class _PseudoVersion:
    """Enough of a ModelVersion to fetch a bundle that lives among a run's artifacts."""

    def __init__(self, manifest_digest: str, files: dict[str, tuple[str, int]], uri: str) -> None:
        self.manifest_digest = manifest_digest
        self.files = files
        self.uri = uri


def _card_field(key: str) -> bool:
    if key not in CARD_FIELDS:
        raise ValidationError(f"card field {key!r} is unknown; card fields are {list(CARD_FIELDS)}")
    return True


def _version_number(version: int | str) -> int:
    if isinstance(version, int) and not isinstance(version, bool) and version > 0:
        return version
    if isinstance(version, str) and version.isdigit() and int(version) > 0:
        return int(version)
    raise ValidationError(f"model version {version!r} is not a positive whole number")
