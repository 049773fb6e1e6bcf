"""The web UI of the team server: server-rendered pages (Jinja2 + htmx, uPlot for long
series), every one with a JSON twin at the same URL plus ``.json``. Its assets ship inside
the package (no CDN); ``modelyard ui`` serves it over the embedded store for one person."""

from modelyard.server.ui._routes import ui_routes

__all__ = ["ui_routes"]
