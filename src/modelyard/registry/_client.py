"""``modelyard.Client``: the tracking client plus the model registry, in MLflow's names."""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

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
    read_example,
    read_manifest,
    save_model,
)
from modelyard.flavors._manifest import verify_folder
from modelyard.registry import _mlflow_import
from modelyard.registry._card import Card, render_card
from modelyard.registry._evaluate import EvaluationResult, evaluate
from modelyard.registry._gate import (
    CardCheck,
    ChampionCheck,
    CheckResult,
    Gate,
    LatencyCheck,
    MetricCheck,
    metric_of,
    parse_gate,
)
from modelyard.registry._loader import cache_root, fetch_and_load, load_located
from modelyard.store import RegistryStore
from modelyard.tracking import Client as TrackingClient
from modelyard.tracking._context import current_user


class Client(TrackingClient):
    """Tracking and the model registry over one store.

    Registry methods follow ``MlflowClient``: ``create_registered_model``,
    ``get_model_version``, ``set_registered_model_alias``, ``search_model_versions`` ...
    plus promotion through gates, evaluation, approvals and model cards.
    """

    @property
    def _registry(self) -> RegistryStore:
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

    def search_registered_models(self, filter_string: str = "") -> list[RegisteredModel]:
        """Registered models; ``filter_string`` may be ``name LIKE 'cred%'`` or ``name = 'x'``."""
        return self._registry.search_models(_name_pattern(filter_string))

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
        self,
        name: str,
        source: Any,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        risk_category: RiskCategory | str | None = None,
        card: dict[str, str] | None = None,
        owner: str | None = None,
        input_example: Any = None,
        signature: Any = None,
        run_id: str | None = None,
        lineage: dict[str, Any] | None = None,
        onnx: bool = False,
    ) -> ModelVersion:
        """Register a new version of ``name`` from ``runs:/<id>/<path>``, a bundle folder, an
        MLflow model folder, or a live model object. Versions are 1, 2, 3 ... per model."""
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
                            folder, Path(staging.name) / "bundle", input_example
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
            return self._registry.create_version(
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

    def _convert_mlflow(self, folder: Path, target: Path, input_example: Any) -> Path:
        mlmodel = _mlflow_import.read_mlmodel(folder)
        model = _mlflow_import.load_mlflow_model(folder, mlmodel)
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
        manifest = read_manifest(folder)
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

    def _manifest_of(self, files: Mapping[str, tuple[str, int]]) -> tuple[str, Any]:
        digest = files[MANIFEST][0]
        data = yaml.safe_load(self.blobs.get_bytes(digest))
        manifest = Manifest.from_dict(data, MANIFEST)
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
        artifact_path: str = "model",
        *,
        input_example: Any = None,
        signature: Any = None,
        registered_model_name: str | None = None,
        artifacts: Mapping[str, Any] | None = None,
        onnx: bool = False,
        **register_kwargs: Any,
    ) -> ModelVersion | str:
        """Save ``model`` as a bundle among the run's artifacts; register it when a name is given.

        Returns the new ModelVersion, or the ``runs:/`` URI when not registering."""
        with tempfile.TemporaryDirectory(prefix="modelyard-log-model-") as tmp:
            folder = Path(tmp) / "bundle"
            save_model(
                model,
                folder,
                input_example=input_example,
                signature=signature,
                artifacts=artifacts,
                onnx=onnx,
            )
            self.log_artifacts(run_id, folder, artifact_path)
        uri = f"runs:/{run_id}/{artifact_path}"
        if registered_model_name is None:
            return uri
        return self.register_model(registered_model_name, uri, **register_kwargs)

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
        self, filter_string: str = "", include_deleted: bool = False
    ) -> list[ModelVersion]:
        """Versions, newest first; ``filter_string``: ``name = 'x'``, ``name LIKE 'x%'``,
        ``run_id = '...'``, joined with ``and``."""
        criteria = _version_filter(filter_string)
        return self._registry.search_versions(include_deleted=include_deleted, **criteria)

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
            digest, manifest = self._manifest_of(files)
            pseudo = _PseudoVersion(
                manifest_digest=digest, files=files, uri=text, flavor=manifest.flavor
            )
            return fetch_and_load(pseudo, self.blobs, text, engine)  # type: ignore[arg-type]
        return load_bundle(text, trusted=trusted, engine=engine)

    # -- aliases, states, approvals ----------------------------------------------------

    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, reason: str = ""
    ) -> None:
        """Point ``alias`` at ``version`` (atomically, audited). Promotion through a gate is ``promote``."""
        self._registry.set_alias(
            name, check_alias(alias), _version_number(version), current_user(), reason
        )

    def delete_registered_model_alias(self, name: str, alias: str, reason: str = "") -> None:
        self._registry.delete_alias(name, alias, current_user(), reason)

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
        self, name: str, version: int | str, approver: str, note: str = ""
    ) -> ModelVersion:
        """Record a named approver (needed to promote high-risk versions)."""
        if not approver or not approver.strip():
            raise ValidationError("approver is empty; name the person who approves")
        number = _version_number(version)
        current = self._registry.get_version(name, number)
        approvals = [*current.approvals, {"approver": approver, "note": note, "at": now_ms()}]
        return self._registry.update_version(
            name, number, current_user(), f"approved by {approver}", approvals=approvals
        )

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
        results.append(
            CheckResult(
                "risk category",
                risk is not RiskCategory.UNACCEPTABLE,
                f"{risk.value}"
                + (" models are never promoted" if risk is RiskCategory.UNACCEPTABLE else ""),
            )
        )
        if risk is RiskCategory.HIGH:
            missing = [f for f in CARD_FIELDS if not candidate.card.get(f, "").strip()]
            results.append(
                CheckResult(
                    "high risk: card complete",
                    not missing,
                    "all fields filled" if not missing else f"missing {', '.join(missing)}",
                )
            )
            approvers = [a["approver"] for a in candidate.approvals]
            results.append(
                CheckResult(
                    "high risk: named approver",
                    bool(approvers),
                    ", ".join(approvers)
                    if approvers
                    else "no approval recorded (modelyard models approve ...)",
                )
            )
        for check in chosen.checks if chosen else []:
            results.append(self._run_check(check, candidate, alias))
        return results

    def _run_check(self, check: Any, candidate: ModelVersion, alias: str) -> CheckResult:
        if isinstance(check, MetricCheck):
            value = metric_of(candidate.metrics, check.metric, f"version {candidate.version}")
            ok = (check.min is None or value >= check.min) and (
                check.max is None or value <= check.max
            )
            bounds = " and ".join(
                b
                for b in (
                    f">= {check.min}" if check.min is not None else "",
                    f"<= {check.max}" if check.max is not None else "",
                )
                if b
            )
            return CheckResult(f"{check.metric} {bounds}", ok, f"{value:.4g}")
        if isinstance(check, ChampionCheck):
            value = metric_of(candidate.metrics, check.champion, f"version {candidate.version}")
            try:
                champion = self.get_model_version_by_alias(candidate.name, check.alias)
            except NotFoundError:
                return CheckResult(
                    f"{check.champion} vs {check.alias}", True, f"{value:.4g}; no {check.alias} yet"
                )
            reference = metric_of(
                champion.metrics, check.champion, f"the {check.alias} (version {champion.version})"
            )
            worse_by = (reference - value) if check.higher_is_better else (value - reference)
            return CheckResult(
                f"{check.champion} within {check.delta} of {check.alias}",
                worse_by <= check.delta,
                f"{value:.4g} vs {reference:.4g} (v{champion.version})",
            )
        if isinstance(check, LatencyCheck):
            model = self.load_model(candidate.uri)
            example = self._example(candidate)
            if example is None:
                return CheckResult(
                    f"latency <= {check.latency_ms} ms",
                    False,
                    "no input example was registered to time",
                )
            model.predict(example)
            timings = []
            for _ in range(check.repeats):
                started = time.perf_counter()
                model.predict(example)
                timings.append((time.perf_counter() - started) * 1000)
            median = statistics.median(timings)
            return CheckResult(
                f"latency <= {check.latency_ms} ms",
                median <= check.latency_ms,
                f"median {median:.2f} ms over {check.repeats} calls on {len(example)} rows",
            )
        if isinstance(check, CardCheck):
            missing = [f for f in check.card if not candidate.card.get(f, "").strip()]
            return CheckResult(
                f"card fields {', '.join(check.card)}",
                not missing,
                "filled" if not missing else f"missing {', '.join(missing)}",
            )
        raise ValidationError(f"unknown gate check {check!r}")

    def _example(self, version: ModelVersion) -> Any:
        model = self.load_model(version.uri)
        if not model.manifest.input_example:
            return None
        return read_example(cache_root() / version.manifest_digest, model.manifest)

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
                + "; ".join(f"{r.check} ({r.detail})" for r in failed)
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
        self._registry.set_alias(
            name, alias, number, actor or current_user(), reason, action=action, details=details
        )
        return results

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

    def __init__(
        self, manifest_digest: str, files: dict[str, tuple[str, int]], uri: str, flavor: str
    ) -> None:
        self.manifest_digest = manifest_digest
        self.files = files
        self.uri = uri
        self.flavor = flavor


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


def _name_pattern(filter_string: str) -> str | None:
    text = (filter_string or "").strip()
    if not text:
        return None
    match = re.fullmatch(r"name\s*(=|LIKE|ILIKE)\s*'([^']*)'", text, flags=re.IGNORECASE)
    if match is None:
        raise ValidationError(
            f"filter {text!r}: registered models filter on name, e.g. name LIKE 'credit%'"
        )
    return match.group(2)


def _version_filter(filter_string: str) -> dict[str, str]:
    criteria: dict[str, str] = {}
    text = (filter_string or "").strip()
    if not text:
        return criteria
    for clause in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        match = re.fullmatch(
            r"(name|run_id)\s*(=|LIKE|ILIKE)\s*'([^']*)'", clause.strip(), flags=re.IGNORECASE
        )
        if match is None:
            raise ValidationError(
                f"filter clause {clause!r}: model versions filter on name = '...', name LIKE '...' or run_id = '...'"
            )
        field_, op, value = match.group(1).lower(), match.group(2).upper(), match.group(3)
        key = "name_like" if (field_ == "name" and op != "=") else field_
        criteria[key] = value
    return criteria
