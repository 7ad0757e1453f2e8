"""Console API for members: what the console's member screens need beyond console.py (phone reveal, coupons, search by tag), under /api/v1/admin."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("console_members", url_prefix="/api/v1/admin")
TAG = "console"
