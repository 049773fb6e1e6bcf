"""``modelyard build``: what a platform team needs to run a deployment in containers.

Writes into one folder: the model bundles (exported from the registry, verified, pinned to
the versions the aliases name today), a deployment file pointing at them, requirements
pinned from the bundles' manifests, a Dockerfile whose command serves the deployment, and
Kubernetes manifests (Deployment with probes on the v2 health endpoints, Service,
HorizontalPodAutoscaler, Prometheus scrape annotations). With ``server=True`` the image also
holds what ``modelyard server`` needs (PostgreSQL, S3) and the manifests gain the team server:
a stateless Deployment of ``modelyard server`` reading its store URIs from the Secret
``modelyard-server``, and its Service.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from modelyard import __version__
from modelyard.core.errors import ValidationError
from modelyard.core.uris import parse_models_uri
from modelyard.flavors import MANIFEST, read_manifest
from modelyard.registry import Client, fetch_bundle
from modelyard.serving._config import load_deployment

PORT = 8080
SERVER_PORT = 5000
SERVER_NAME = "modelyard-server"
SERVER_SECRET = "modelyard-server"  # MODELYARD_TRACKING_URI, MODELYARD_ARTIFACT_URI (+ AWS_* for S3)
_SERVE_PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "prometheus-client", "pyyaml", "orjson")


@dataclass
class BuildResult:
    folder: Path
    files: list[Path] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # route model -> bundle folder
    command: list[str] = field(default_factory=list)


def _pinned(package: str) -> str | None:
    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return None


def _export(client: Client, uri: str, folder: Path) -> tuple[str, list[str]]:
    """Copy a version's files (verified against their registered digests) into ``folder``."""
    peeked = client.peek(uri)
    if peeked is None:
        client.resolve(uri)  # raises the error that names what is missing
        raise ValidationError(f"{uri} names no loadable version")
    ref = parse_models_uri(uri)
    version = client.get_model_version(ref.name, peeked[0])
    target = folder / "models" / f"{ref.name}-v{version.version}"
    if not target.exists():
        fetch_bundle(version.files, client.blobs, target, version.uri)  # names checked, verified
    return f"models/{target.name}", read_manifest(target).requirements


def _source_tree() -> Path | None:
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "modelyard").is_dir() else None


def build(
    target: str,
    output: str | Path,
    *,
    tracking_uri: str | None = None,
    image: str | None = None,
    workers: int = 2,
    replicas: int = 2,
    wheel: bool = False,
    server: bool = False,
) -> BuildResult:
    """Write the container files for a model URI or a deployment file into ``output``;
    ``server=True`` adds the team server (``modelyard server``) to the image and manifests."""
    config, path = load_deployment(target)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    client = Client(tracking_uri)
    result = BuildResult(folder)
    requirements: set[str] = set()
    data: dict[str, Any] = config.model_dump(mode="json", exclude_defaults=True)
    for endpoint in data["endpoints"]:
        for kind in ("routes", "shadow"):
            for route in endpoint.get(kind, []):
                model = route["model"]
                if model.startswith("models:"):
                    route.setdefault("name", _label(model))
                    local, reqs = _export(client, model, folder)
                else:
                    source = Path(model)
                    if path is not None and not source.is_absolute():
                        source = path.parent / source
                    if not (source / MANIFEST).is_file():
                        raise ValidationError(f"route model {model!r} is not a bundle folder")
                    local = f"models/{source.resolve().name}"
                    if not (folder / local).exists():
                        shutil.copytree(source, folder / local)
                    reqs = read_manifest(folder / local).requirements
                result.models[model] = local
                route["model"] = local
                requirements.update(reqs)
        if endpoint.get("features"):
            raise ValidationError(
                f"endpoint {endpoint['name']!r} enriches from a feature store; build does not package "
                "feature repositories yet — serve it with `modelyard serve` next to the repo"
            )
    deployment = folder / "deployment.yaml"
    deployment.write_text(
        "# Written by `modelyard build`: routes pinned to the bundles in models/ (verified on load).\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    result.files.append(deployment)

    serve_pins = [p for p in (_pinned(name) for name in _SERVE_PACKAGES) if p]
    reqs_file = folder / "requirements.txt"
    lines = sorted(requirements | set(serve_pins), key=str.lower)
    reqs_file.write_text(
        "# Pinned from the model bundles' manifests and this server's own dependencies.\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    result.files.append(reqs_file)

    has_wheel = False
    if wheel:
        tree = _source_tree()
        if tree is None:
            raise ValidationError("--wheel needs modelyard installed from its source tree")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder / "wheels"), str(tree)],
            check=True,
        )
        has_wheel = True

    result.command = [
        "modelyard", "serve", "deployment.yaml", "--host", "0.0.0.0", "--port", str(PORT), "--workers", str(workers),
    ]
    extras = "serve,postgres,s3" if server else "serve"
    install_modelyard = (
        f'COPY wheels/ wheels/\nRUN pip install --no-cache-dir "$(ls wheels/*.whl)[{extras}]" && rm -rf wheels\n'
        if has_wheel
        else f'RUN pip install --no-cache-dir "modelyard[{extras}]=={__version__}"\n'
    )
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(
        f"""# Written by `modelyard build` for: {target}
FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MODELYARD_HOME=/var/lib/modelyard/home
WORKDIR /srv/modelyard
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
{install_modelyard}COPY models/ models/
COPY deployment.yaml .
RUN useradd --uid 10001 --no-create-home modelyard && mkdir -p /var/lib/modelyard && chown -R 10001 /var/lib/modelyard
USER 10001
EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/v2/health/ready')"
CMD {json.dumps(result.command)}
""",
        encoding="utf-8",
    )
    result.files.append(dockerfile)
    (folder / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n", encoding="utf-8")

    name = _k8s_name(config.endpoints[0].name)
    image = image or f"{name}:{__version__}"
    result.files.append(_write_kubernetes(folder, name, image, replicas, bool(config.auth), server=server))
    return result


def _label(uri: str) -> str:
    ref = parse_models_uri(uri)
    return ref.alias or (str(ref.version) if ref.version else "latest")


def _k8s_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", text.lower()).strip("-")[:53]
    return name or "modelyard"


def _probe(path: str, delay: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }


def _server_documents(image: str, replicas: int) -> list[dict[str, Any]]:
    """``modelyard server`` as a stateless Deployment (replicas share one PostgreSQL and one
    bucket, named in the Secret) and its Service; ``--auth token`` as it must be off loopback."""
    labels = {"app.kubernetes.io/name": SERVER_NAME, "app.kubernetes.io/part-of": "modelyard"}
    command = ["modelyard", "server", "--host", "0.0.0.0", "--port", str(SERVER_PORT), "--workers", "2", "--auth", "token"]
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": SERVER_NAME, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                        "terminationGracePeriodSeconds": 30,
                        "containers": [
                            {
                                "name": "server",
                                "image": image,
                                "command": command,
                                "ports": [{"name": "http", "containerPort": SERVER_PORT}],
                                "envFrom": [{"secretRef": {"name": SERVER_SECRET}}],
                                "readinessProbe": _probe("/health", 2),
                                "livenessProbe": _probe("/health", 10),
                                "resources": {
                                    "requests": {"cpu": "500m", "memory": "512Mi"},
                                    "limits": {"cpu": "2", "memory": "2Gi"},
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVER_NAME, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    ]


def _write_kubernetes(folder: Path, name: str, image: str, replicas: int, auth: bool, *, server: bool = False) -> Path:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "modelyard"}
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT), "prometheus.io/path": "/metrics"}
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                        "terminationGracePeriodSeconds": 30,
                        "containers": [
                            {
                                "name": "server",
                                "image": image,
                                "ports": [{"name": "http", "containerPort": PORT}],
                                "readinessProbe": _probe("/v2/health/ready", 2),
                                "livenessProbe": _probe("/v2/health/live", 10),
                                "resources": {
                                    "requests": {"cpu": "1", "memory": "1Gi"},
                                    "limits": {"cpu": "2", "memory": "2Gi"},
                                },
                                "volumeMounts": [{"name": "prediction-log", "mountPath": "/var/lib/modelyard"}],
                            }
                        ],
                        "volumes": [{"name": "prediction-log", "emptyDir": {}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": replicas,
                "maxReplicas": max(replicas, 10),
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
                ],
            },
        },
    ]
    if server:
        documents += _server_documents(image, replicas)
    path = folder / "kubernetes.yaml"
    header = "# Written by `modelyard build`. kubectl apply -f kubernetes.yaml\n"
    if server:
        header += (
            f"# The team server reads the Secret {SERVER_SECRET!r} first: kubectl create secret generic {SERVER_SECRET} \\\n"
            "#   --from-literal=MODELYARD_TRACKING_URI=postgresql://user:password@host/db \\\n"
            "#   --from-literal=MODELYARD_ARTIFACT_URI=s3://bucket/prefix   (and AWS_* keys for the bucket)\n"
        )
    if auth:
        header += "# Authentication is on: give Prometheus a token with the 'metrics' scope.\n"
    path.write_text(header + yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return path
