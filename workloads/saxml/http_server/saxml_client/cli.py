r"""python -m saxml_client [options] COMMAND ...: the Saxml HTTP server's calls from a shell.

    publish MODEL MODEL_PATH CHECKPOINT REPLICAS    publish a model
    update MODEL MODEL_PATH CHECKPOINT REPLICAS     change its replica count (Sax changes nothing else)
    unpublish MODEL                                 stop serving it
    listcell MODEL                                  its model path, checkpoint and replicas
    listall CELL                                    the models published in a cell, one a line
    generate MODEL QUERY [--extra NAME=NUMBER ...]  generate text, e.g. --extra temperature=0.5
    sync --models-file FILE [--wait] [--dry-run]    make a cell serve exactly the models of a models file

e.g. python -m saxml_client --server http://saxml-http:8888 publish /sax/test/spmd \
         saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test None 2

Options, before or after the command: --server URL (env SAXML_SERVER, default http://127.0.0.1:8888), --retries N
(attempts after the first, on connection errors and 5xx answers), --backoff SECONDS (the first retry's wait; doubles,
at most --max-backoff), --timeout SECONDS (per request), --json (print the server's JSON instead of text).

Environment: SAXML_ADMIN_TOKEN, when set, is sent as `Authorization: Bearer <token>` (the server's admin token for
publish, update, unpublish and sync). It has no option: a command-line argument would show in the process list.

Exit status: 0 done; 1 the server refused the request (4xx) or kept failing, with its message; 2 bad arguments or
models file. Retries and waits are reported on stderr.
"""

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .api import RequestFailed, RetryPolicy, SaxmlHttpClient
from .sync import ModelsFileError, load_models_file, sync

DEFAULT_SERVER = "http://127.0.0.1:8888"
SERVER_ENV = "SAXML_SERVER"
# The server reads the same variable (saxml_http.guards.ADMIN_TOKEN_ENV); the client does not import the server.
ADMIN_TOKEN_ENV = "SAXML_ADMIN_TOKEN"


def _replicas(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return int(text)


def _extra_input(text: str) -> tuple[str, float]:
    name, equals, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = None
    if not equals or not name or number is None:
        raise argparse.ArgumentTypeError(f"must be NAME=NUMBER, got {text!r}")
    return name, number


def _add_options(parser: argparse.ArgumentParser, environ: dict[str, str] | None) -> None:
    # The subcommands' copies default to SUPPRESS, so an option given before the command is not reset after it.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if environ is None else value

    parser.add_argument(
        "--server", default=default((environ or {}).get(SERVER_ENV, DEFAULT_SERVER)), help="the HTTP server's URL"
    )
    parser.add_argument("--retries", type=int, default=default(4), help="retries after the first attempt (4)")
    parser.add_argument("--backoff", type=float, default=default(0.5), help="first retry's wait in seconds (0.5)")
    parser.add_argument("--max-backoff", type=float, default=default(8.0), help="longest wait in seconds (8)")
    parser.add_argument("--timeout", type=float, default=default(60.0), help="seconds per request (60)")
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON")


def build_parser(environ: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m saxml_client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_options(parser, environ)
    options = argparse.ArgumentParser(add_help=False)
    _add_options(options, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[options], help=help_text, description=help_text)

    for name, help_text in (("publish", "publish a model"), ("update", "change a published model's replicas")):
        sub = command(name, help_text)
        sub.add_argument("model", help="/sax/<cell>/<model>")
        sub.add_argument("model_path", help="the model in Sax's registry")
        sub.add_argument("checkpoint", help='checkpoint path, or "None"')
        sub.add_argument("replicas", type=_replicas)
    command("unpublish", "stop serving a model").add_argument("model")
    command("listcell", "a model's path, checkpoint and replicas").add_argument("model")
    command("listall", "the models published in a cell").add_argument("cell", help="/sax/<cell>")
    generate = command("generate", "generate text with a published language model")
    generate.add_argument("model")
    generate.add_argument("query")
    generate.add_argument(
        "--extra", type=_extra_input, action="append", default=[], metavar="NAME=NUMBER", help="extra input"
    )
    sync_command = command("sync", "make a cell serve exactly the models of a models file")
    sync_command.add_argument("--models-file", type=Path, required=True, help="JSON: {cell, models: [...]}")
    sync_command.add_argument(
        "--wait", action="store_true", help="first wait for the server and the cell's admin server to answer"
    )
    sync_command.add_argument("--wait-timeout", type=float, default=600.0, help="seconds --wait waits (600)")
    sync_command.add_argument(
        "--republish-timeout", type=float, default=600.0, help="seconds to retry a republish while Sax unloads (600)"
    )
    sync_command.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    return parser


def _text(command: str, answer: Any) -> list[str]:
    """The readable lines for a command's answer."""
    if command in ("publish", "update"):
        verb = "published" if command == "publish" else "updated"
        return [
            f"{verb} {answer['model']}: {answer['model_path']}, checkpoint {answer['checkpoint']}, "
            f"{answer['replicas']} replicas"
        ]
    if command == "unpublish":
        return [f"unpublished {answer['model']}"]
    if command == "listcell":
        return [
            answer["model"],
            f"  model path:  {answer['model_path']}",
            f"  checkpoint:  {answer['checkpoint']}",
            f"  replicas:    {answer['active_replicas']} active of {answer['max_replicas']}",
        ]
    if command == "listall":
        return list(answer)
    # generate: [[text, score], ...], best first as Sax returns them
    return [f"{float(score):9.4f}  {text}" for text, score in answer]


def _call(client: SaxmlHttpClient, args: argparse.Namespace) -> Any:
    command = args.command
    if command in ("publish", "update"):
        method = client.publish if command == "publish" else client.update
        return method(args.model, args.model_path, args.checkpoint, args.replicas)
    if command == "unpublish":
        return client.unpublish(args.model)
    if command == "listcell":
        return client.listcell(args.model)
    if command == "listall":
        return client.listall(args.cell)
    return client.generate(args.model, args.query, dict(args.extra))


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    environ: dict[str, str] | None = None,
) -> int:
    environ = dict(os.environ if environ is None else environ)
    parser = build_parser(environ)
    try:
        # argparse writes usage errors and --help to sys.stderr and sys.stdout itself.
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)

    def out(line: str) -> None:
        print(line, file=stdout, flush=True)

    def err(line: str) -> None:
        print(line, file=stderr, flush=True)

    retry = RetryPolicy(attempts=args.retries + 1, backoff_s=args.backoff, max_backoff_s=args.max_backoff)
    client = SaxmlHttpClient(
        args.server, retry, timeout_s=args.timeout, log=err, admin_token=environ.get(ADMIN_TOKEN_ENV) or None
    )
    try:
        if args.command == "sync":
            return _sync(client, args, out=out, err=err)
        answer = _call(client, args)
    except RequestFailed as error:
        err(f"saxml_client {args.command}: {error}")
        return 1
    finally:
        client.close()
    for line in [json.dumps(answer)] if args.json else _text(args.command, answer):
        out(line)
    return 0


def _sync(
    client: SaxmlHttpClient, args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]
) -> int:
    try:
        desired = load_models_file(args.models_file)
    except ModelsFileError as error:
        err(f"saxml_client sync: {error}")
        return 2
    if args.wait:
        err(f"waiting up to {args.wait_timeout:g} s for {client.server} to answer for cell {desired.cell}")
    report = sync(
        client,
        desired,
        wait_s=args.wait_timeout if args.wait else None,
        republish_patience_s=args.republish_timeout,
        dry_run=args.dry_run,
        # With --json, stdout is the report alone.
        progress=err if args.json else out,
    )
    out(json.dumps(report.as_json()) if args.json else report.summary())
    return 0
