"""``modelyard ui``: the web UI over the embedded store, for one person on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._common import TrackingUri
from modelyard.cli._output import console, friendly_errors


def ui(
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 5000,
    host: Annotated[str, typer.Option(help="Interface; loopback only, since auth is off.")] = "127.0.0.1",
    tracking_uri: TrackingUri = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Open the store in a browser: experiments and runs, models with their cards and lineage,
    features, monitoring (drift, alerts, swaps) and pipelines. The team server's own UI, with
    auth off on loopback (for a shared store with users, run `modelyard server`)."""
    try:
        import uvicorn
    except ImportError:
        raise typer.BadParameter("the UI needs: pip install 'modelyard[serve]'") from None
    from modelyard.server import ServerConfig, build_state, create_app

    with friendly_errors():
        config = ServerConfig(backend_store_uri=tracking_uri, host=host, auth="none")
        app = create_app(state=build_state(config))
    config_ = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config_)
    console.print(f"modelyard UI on http://{host}:{port}/ui/ (Ctrl-C to stop)", highlight=False)
    server.run()
