"""The hotline: `create_app()` wires settings, runtime, blueprints and error handling.

Wiring only (flaskr's factory): every decision lives in the modules it registers.
"""

from __future__ import annotations

import logging

from flask import Flask

from .config import Settings
from .errors import HotlineError

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, redis_url: str | None = None) -> Flask:
    """Create and configure the hotline's Flask application."""
    from . import runtime

    settings = settings or Settings.from_env()
    rt = runtime.configure(settings, redis_url=redis_url)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024  # a Twilio form is a few KB; refuse floods early
    app.extensions["hotline"] = rt
    if settings.proxy_hops:  # the client address (guard.client_key) is the one the trusted proxies saw
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=0, x_host=0)  # type: ignore[method-assign]

    _warm_places(settings)
    from . import router

    router.start_replayer(rt)  # replays the outage spool as soon as Redis answers

    from . import health, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    for optional in ("chat", "dashboard"):
        try:
            module = __import__(f"{__name__}.{optional}", fromlist=["bp"])
        except ModuleNotFoundError as exc:  # a blueprint not built yet is simply absent
            if exc.name != f"{__name__}.{optional}":
                raise
            continue
        app.register_blueprint(module.bp)
    from .voice import console as voice_console
    from .voice import routes as voice_routes

    app.register_blueprint(voice_routes.bp)
    voice_console.register(app)

    from . import guard

    guard.init_app(app)  # after the blueprints: each app's own Limiter wraps the views that declared limits
    app.after_request(guard.secure_headers)  # every response, errors and static files included

    @app.errorhandler(HotlineError)
    def handle_hotline_error(exc: HotlineError):
        if exc.status >= 500:
            log.error("internal error", exc_info=exc)
        return {"error": str(exc) if exc.status < 500 else "internal error"}, exc.status

    return app


def _warm_places(settings: Settings) -> None:
    """Load the gazetteer and US place names off the request path (about a second, once per process)."""
    import threading
    from pathlib import Path

    from . import geo

    threading.Thread(
        target=geo.warm, args=(settings.bounds, Path(settings.flows_dir) / "places.yaml"), daemon=True, name="geo-warm"
    ).start()
