"""``python -m booksync.qbo_double``: run the QuickBooks Online test double in the foreground.

Prints the URL and the ``[online]`` settings that point a booksync home at it; stops on Ctrl-C.
The state lives in memory and is gone when it stops.
"""
from __future__ import annotations

import argparse
import json
import sys

from booksync.qbo_double.double import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REALM, DoubleConfig, QboDouble
from booksync.qbo_double.server import DoubleServer


def connect_hint(url: str, client_id: str, client_secret: str) -> str:
    """What a person runs to connect a booksync home to the double (its authorization page approves at once)."""
    return (f"QuickBooks Online test double on {url} (Ctrl-C stops it; its companies live in memory).\n"
            f"Connect a home to it:\n"
            f"  echo {client_secret} | booksync company connect online --home HOME --sandbox --client-id {client_id} "
            f"--client-secret-stdin --api-base {url} --discovery-url {url}/.well-known/openid_sandbox_configuration\n"
            "then open the printed authorization URL (the double approves at once) and give the URL it redirects to "
            "with --redirect-url.\n"
            f"Revoke booksync's access as the company's administrator would: curl -X POST {url}/_double/revoke")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booksync.qbo_double",
                                     description="A QuickBooks Online test double on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8790, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--realm", default=DEFAULT_REALM, help="the company's realmId")
    parser.add_argument("--company-name", default="Riverside Regional Chamber of Commerce")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--rate-limit", type=int, default=500, help="requests per window per realm")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    parser.add_argument("--batch-rate-limit", type=int, default=40, help="batch requests per window")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API answer")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    double = QboDouble(args.realm, args.company_name, args.client_id, args.client_secret,
                       config=DoubleConfig(rate_limit=args.rate_limit, rate_window=args.rate_window,
                                           batch_rate_limit=args.batch_rate_limit, latency=args.latency))
    server = DoubleServer(double, port=args.port, log_level=args.log_level)
    server.start()
    print(json.dumps({"url": server.url, "realm_id": args.realm, "client_id": args.client_id,
                      "online_settings": server.settings()}), flush=True)
    print(connect_hint(server.url, args.client_id, args.client_secret), file=sys.stderr, flush=True)
    try:
        server._thread.join()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
