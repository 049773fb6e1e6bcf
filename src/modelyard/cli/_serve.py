"""``modelyard serve``, ``modelyard token``: run the scoring server, make access tokens."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from modelyard.cli._common import TrackingUri
from modelyard.cli._output import emit_json, friendly_errors, say
from modelyard.core.extras import require


def serve(
    target: Annotated[
        str,
        typer.Argument(
            help="What to serve: models:/name@alias, models:/name/3, a bundle folder, or a deployment .yaml "
            "(endpoints with A/B, shadow and sticky routes, auth, prediction log)."
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).")] = 1,
    tracking_uri: TrackingUri = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve models over HTTP: native JSON (/v1/endpoints/NAME/predict), Open Inference
    Protocol v2 (/v2/models/NAME/infer), MLflow scoring (/invocations), feedback
    (/v1/feedback), Prometheus /metrics and /openapi.json.

    The server follows the aliases it serves: when `champion` moves, the new version is
    loaded and warmed in the background and swapped in without failing a request."""
    with friendly_errors():
        uvicorn = require("uvicorn", "modelyard serve")
        from modelyard.serving import load_deployment

        config, _ = load_deployment(target)  # fail here, with a clear message, not in a worker
    if tracking_uri:
        os.environ["MODELYARD_TRACKING_URI"] = tracking_uri
    os.environ["MODELYARD_SERVE_TARGET"] = target
    from modelyard.http._timeouts import BODY_TIMEOUT_ENV, HEADER_TIMEOUT_ENV

    os.environ[HEADER_TIMEOUT_ENV] = str(config.header_timeout_seconds)
    os.environ[BODY_TIMEOUT_ENV] = str(config.body_timeout_seconds)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="modelyard-metrics-")
    names = ", ".join(e.name for e in config.endpoints)
    say("serving ", (names, "bold"), f" on http://{host}:{port} with {workers} worker{'s' if workers > 1 else ''} (OpenAPI: /openapi.json)")
    uvicorn.run(
        "modelyard.serving._main:app",
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools with read timeouts, plain predict requests answered without an ASGI cycle
        http="modelyard.http._direct:DirectProtocol",
        limit_concurrency=config.max_connections,
        log_level=log_level,
        timeout_graceful_shutdown=10,
        # uvicorn pings a worker from its start, and kills one that does not answer in time: a
        # worker still importing and loading its models on a busy machine must not be taken for hung
        timeout_worker_healthcheck=120,
    )


token_app = typer.Typer(help="Access tokens for the scoring server.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")] = "client",
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Scope to grant (repeat): predict, feedback, metrics, read."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a new bearer token. The token is shown once; put the printed entry (its SHA-256,
    never the token) under auth.tokens in the deployment file."""
    from modelyard.serving import new_token
    from modelyard.serving._config import SCOPES

    scopes = scope or ["predict"]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise typer.BadParameter(f"unknown scope {unknown[0]!r}; scopes are {list(SCOPES)}")
    token, digest = new_token()
    entry = {"name": name, "sha256": digest, "scopes": scopes}
    if json:
        emit_json({"token": token, "entry": entry})
        return
    say("token (shown once): ", (token, "bold"))
    say("add to the deployment file under auth.tokens:")
    say(f"  - {{name: {name}, sha256: {digest}, scopes: [{', '.join(scopes)}]}}")


def score(
    model_uri: Annotated[str, typer.Argument(help="models:/name@alias, models:/name/3, runs:/<id>/model or a bundle folder.")],
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="A Parquet file, folder or glob.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Parquet file to write (written whole, then renamed).")],
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk: memory grows with this, not with the file.")] = 200_000,
    workers: Annotated[int | None, typer.Option(help="Scoring processes (default: one per core).")] = None,
    engine: Annotated[str, typer.Option(help="local (processes on this machine), ray (a Ray Data pipeline) or spark ($SPARK_MASTER, else local[*]).")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to use with --engine ray (default: $RAY_ADDRESS, else a local one).")] = None,
    log: Annotated[bool, typer.Option("--log/--no-log", help="Append the predictions to the prediction log.")] = True,
    tracking_uri: TrackingUri = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score a Parquet file in chunks, with bounded memory and every core, into a new Parquet
    file: the input's columns plus `prediction` (and `score`, the positive-class probability
    of a binary classifier)."""
    from modelyard.cli._output import table

    with friendly_errors():
        if engine == "local":
            from modelyard.serving._batch import score_file

            result = score_file(
                model_uri, input_path, output, chunk_rows=chunk_rows, workers=workers,
                tracking_uri=tracking_uri, log=log, progress=not json,
            )
        elif engine == "ray":
            from modelyard.serving._ray import score_file_ray

            result = score_file_ray(
                model_uri, input_path, output, chunk_rows=chunk_rows, workers=workers,
                tracking_uri=tracking_uri, log=log, address=ray_address,
            )
        elif engine == "spark":
            from modelyard.serving._spark import score_file_spark

            result = score_file_spark(model_uri, input_path, output, chunk_rows=chunk_rows, tracking_uri=tracking_uri, log=log)
        else:
            raise typer.BadParameter(f"--engine must be local, ray or spark, not {engine!r}")
    summary = {
        "output": str(result.output),
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "rows_per_second": round(result.rows_per_second),
        "prediction_log": str(result.log_file) if result.log_file else None,
        "engine": engine,
    }
    if json:
        emit_json(summary)
        return
    table("batch scoring", ["", "value"], [[k, str(v)] for k, v in summary.items()])


def build(
    target: Annotated[str, typer.Argument(help="models:/name@alias, models:/name/3 or a deployment .yaml.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Folder to write the container files into.")],
    image: Annotated[str | None, typer.Option(help="Image name for the Kubernetes manifests (default: <endpoint>:<version>).")] = None,
    workers: Annotated[int, typer.Option(help="Server worker processes per container.")] = 2,
    replicas: Annotated[int, typer.Option(help="Minimum pods (the autoscaler adds more).")] = 2,
    wheel: Annotated[bool, typer.Option("--wheel/--no-wheel", help="Build and ship a modelyard wheel from this source tree.")] = False,
    server: Annotated[bool, typer.Option("--server/--no-server", help="Also deploy the team server (modelyard server): a Deployment and a Service.")] = False,
    tracking_uri: TrackingUri = None,
    json: Annotated[bool, typer.Option("--json", help="Print the written files as JSON.")] = False,
) -> None:
    """Write a Dockerfile (pinned requirements, the model bundles, a non-root user, a health
    check) and Kubernetes manifests (Deployment with probes on /v2/health/*, Service,
    HorizontalPodAutoscaler, Prometheus annotations) for serving TARGET."""
    from modelyard.cli._output import table
    from modelyard.serving._build import build as build_files

    with friendly_errors():
        result = build_files(target, output, tracking_uri=tracking_uri, image=image, workers=workers, replicas=replicas, wheel=wheel, server=server)
    if json:
        emit_json({"folder": str(result.folder), "files": [str(f) for f in result.files], "models": result.models, "command": result.command})
        return
    table(f"container files in {result.folder}", ["file", "what"], [
        ["Dockerfile", "python slim image, pinned requirements, non-root, HEALTHCHECK on /v2/health/ready"],
        ["requirements.txt", "pinned from the bundles' manifests"],
        ["deployment.yaml", "routes pinned to " + ", ".join(sorted(set(result.models.values())))],
        ["kubernetes.yaml", "Deployment (probes), Service, HorizontalPodAutoscaler, Prometheus annotations"
         + ("; the team server's Deployment and Service (Secret modelyard-server)" if server else "")],
    ])
    say(f"next: docker build -t {image or 'IMAGE'} {result.folder} && kubectl apply -f {result.folder}/kubernetes.yaml")
