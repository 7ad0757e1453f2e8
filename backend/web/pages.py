"""``GET /console/``: the marketer and admin console, its static files under ``/console/static/``;
``GET /store/``: the counter page, and its static files under ``/store/static/``; ``GET /api/docs``:
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


# ---- the console ---------------------------------------------------------------------------------
# One page; each screen is a script under static/console/screens/ that registers itself with the
# shell (static/console/core.js). The list is read once, sorted, so adding a screen is adding a file.
console = Blueprint("web_console", url_prefix="/console")
console.static("/static", STATIC_DIR, name="static")
CONSOLE_STATIC_URL = "/console/static/"
CONSOLE_DIR = STATIC_DIR / "console"


def _console_assets() -> dict[str, list[str]]:
    screens = sorted(CONSOLE_DIR.glob("screens/*.js"))
    styles = sorted(CONSOLE_DIR.glob("screens/*.css"))
    return {"screens": [f"console/screens/{path.name}" for path in screens],
            "styles": [f"console/screens/{path.name}" for path in styles]}


CONSOLE_ASSETS = _console_assets()
# ECharts draws its charts into canvases and sets inline styles on its own elements.
CONSOLE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")}


@console.get("/", strict_slashes=True)
async def console_page(request: Request) -> HTTPResponse:
    page = templates.get_template("console/index.html").render(static=CONSOLE_STATIC_URL, **CONSOLE_ASSETS)
    return html(page, headers=CONSOLE_HEADERS)


@console.get("", strict_slashes=True)
async def console_page_without_slash(request: Request) -> HTTPResponse:
    return redirect("/console/", status=301)
