"""Serve the Saxml HTTP server: `python -m saxml_http [--host 0.0.0.0] [--port 8888]`.

Environment: SAXML_BACKEND `sax` (default: Sax's Python client, which needs SAX_ROOT=gs://BUCKET/sax-root) or
`fake` (testing.FakeSaxBackend, a TEST DOUBLE that runs no model); HOST and PORT are the defaults of the flags;
SAXML_MAX_BODY_BYTES, SAXML_MAX_REPLICAS and SAXML_ADMIN_TOKEN set the limits (guards.py).
Exit status 2 when the backend cannot be set up or a limit is malformed (the message says why).
"""

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

import uvicorn

from .app import create_app
from .backend import Backend
from .guards import Limits
from .sax_backend import SaxBackend
from .testing import FakeSaxBackend

BACKEND_ENV = "SAXML_BACKEND"
DEFAULT_PORT = 8888


def backend_from_env(environ: Mapping[str, str]) -> tuple[str, Backend]:
    """The backend SAXML_BACKEND names, and that name; raises RuntimeError when it cannot be set up."""
    name = environ.get(BACKEND_ENV, "sax")
    if name == "sax":
        return name, SaxBackend(environ)
    if name == "fake":
        logging.getLogger("saxml_http").warning("serving FakeSaxBackend, a test double: no Sax cell, no model runs")
        return name, FakeSaxBackend.from_env(environ)
    raise RuntimeError(f"{BACKEND_ENV} must be sax or fake, got {name!r}")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m saxml_http", description=__doc__.splitlines()[0])
    # The pod's address, not loopback: the Service and the sync Job reach the server from other pods.
    parser.add_argument("--host", default=environ.get("HOST", "0.0.0.0"), help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=int(environ.get("PORT", DEFAULT_PORT)), help="(%(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        limits = Limits.from_env(environ)
        name, backend = backend_from_env(environ)
    except RuntimeError as error:
        print(f"saxml_http: {error}", file=sys.stderr)
        return 2
    if limits.admin_token is None:
        logging.getLogger("saxml_http").warning(
            "SAXML_ADMIN_TOKEN is not set: /publish, /update and /unpublish answer whoever reaches this server"
        )
    uvicorn.run(create_app(backend, name, limits), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
