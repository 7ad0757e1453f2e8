"""Mini-program routes under /api/v1/mp."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("miniprogram", url_prefix="/api/v1/mp")
