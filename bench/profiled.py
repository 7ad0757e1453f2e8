"""``python -m bench.profiled --out FILE --port P``: ``python -m backend serve --workers 1`` under cProfile.

The profiler runs only while the server serves (from after-start to before-stop), so imports and the
OpenAPI build at start are left out and the profile is the request path. Used by ``python -m bench
NAME --profile DIR``; read the result with ``python -m pstats FILE``.
"""

from __future__ import annotations

import argparse
import cProfile
import sys

from sanic import Sanic
from sanic.worker.loader import AppLoader

from backend.cli import app_factory
from backend.logs import configure_logging
from backend.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiled", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the pstats file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, json_format=settings.log_json)
    profiler = cProfile.Profile()
    loader = AppLoader(factory=app_factory)
    app = loader.load()

    @app.after_server_start
    async def start_profiling(app: Sanic) -> None:
        profiler.enable()

    @app.before_server_stop
    async def stop_profiling(app: Sanic) -> None:
        profiler.disable()
        profiler.dump_stats(args.out)

    app.prepare(host=args.host, port=args.port, workers=1, access_log=False, motd=False, single_process=True)
    Sanic.serve_single(primary=app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
