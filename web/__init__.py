"""The supervisor web app: upload recordings, follow their analysis, read and correct reports.

``web.app.create_app(settings)`` builds the FastAPI application; ``web.cli``
wires ``session-analyzer serve`` and ``session-analyzer users``. See docs/web.md.
"""
