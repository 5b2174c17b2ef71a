"""Run the web interface alone: ``python -m booksync.web --home DIR [--host 127.0.0.1] [--port 8000]``.

``booksync serve`` serves it beside the Web Connector; this entry point is for trying it and for tests.
"""
from __future__ import annotations

import argparse
import sys

from booksync.config import ConfigError, Home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booksync.web", description=__doc__)
    parser.add_argument("--home", required=True, help="booksync home folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    args = parser.parse_args(argv)
    try:
        home = Home.load(args.home)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    import uvicorn

    from booksync.web.app import create_app
    from booksync.services.serving import proxy_options

    print(f"booksync web interface on http://{args.host}:{args.port}/ (Ctrl+C stops it)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(home, bind=args.host), host=args.host, port=args.port, log_level="warning",
                **proxy_options(home.settings.get("web", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
