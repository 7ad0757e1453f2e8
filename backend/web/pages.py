"""``GET /store/``: the counter page, and its static files under ``/store/static/``; ``GET /api/docs``:
the served contract rendered by the vendored Swagger UI (``static/vendor/swagger-ui``, Apache-2.0).

The page is one more client of the store API: the server renders the shell, the script calls
``/api/v1/staff/session`` and ``/api/v1/store/*`` with the clerk's token. Nothing is fetched from
outside the app (stores have flaky networks, and tests run offline).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, redirect

STATIC_DIR = Path(__file__).parent / "static"

bp = Blueprint("web_pages", url_prefix="/store")
bp.static("/static", STATIC_DIR, name="static")
STATIC_URL = "/store/static/"
docs = Blueprint("web_docs", url_prefix="/api/docs")
docs.static("/static", STATIC_DIR, name="static")
DOCS_STATIC_URL = "/api/docs/static/"

templates = Environment(loader=PackageLoader("backend.web", "templates"), autoescape=select_autoescape(),
                        trim_blocks=True, lstrip_blocks=True)

# Everything the page uses comes from this origin; the token lives in sessionStorage, so no
# script from elsewhere may run next to it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@bp.get("/", strict_slashes=True)
async def counter_page(request: Request) -> HTTPResponse:
    page = templates.get_template("store/counter.html").render(static=STATIC_URL)
    return html(page, headers=SECURITY_HEADERS)


@bp.get("", strict_slashes=True)
async def counter_page_without_slash(request: Request) -> HTTPResponse:
    return redirect("/store/", status=301)


# Swagger UI sets inline styles on its elements; scripts still come only from this origin.
DOCS_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"), "Cache-Control": "no-cache"}


@docs.get("/", strict_slashes=True)
async def docs_page(request: Request) -> HTTPResponse:
    return html(templates.get_template("docs/index.html").render(static=DOCS_STATIC_URL), headers=DOCS_HEADERS)


@docs.get("", strict_slashes=True)
async def docs_page_without_slash(request: Request) -> HTTPResponse:
    return redirect("/api/docs/", status=301)
