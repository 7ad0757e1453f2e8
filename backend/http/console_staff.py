"""Console API for staff and stores: change a role or store, reset a password, deactivate; edit a store, under /api/v1/admin."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("console_staff", url_prefix="/api/v1/admin")
TAG = "console"
