"""The serving container's entrypoint: turns environment variables into a `vllm serve` command line, runs the server
as a child process and keeps the XLA compile cache on local disk, synced with a bucket.

Environment (the Pulumi component sets these; an empty value counts as unset; "vLLM's" means vLLM's own default):

- MODEL (required): a local path (the GCS FUSE mount of the staged weights) or a Hugging Face model id; the
  positional model argument of `vllm serve`. Never starts with `-` (vLLM would read it as a flag).
- SERVED_MODEL_NAME (vLLM's: MODEL): `--served-model-name`, the names clients may put in requests, separated by
  spaces (model ids have none); vLLM answers to any of them and reports the first in responses and metrics. None
  starts with `-`.
- TENSOR_PARALLEL_SIZE (vLLM's: 1): `--tensor-parallel-size`, a positive integer: chips to shard across (8 on v6e-8).
- MAX_MODEL_LEN (vLLM's: the model's): `--max-model-len`, a positive integer: prompt + output tokens per request.
- MAX_NUM_SEQS (vLLM's): `--max-num-seqs`, a positive integer: requests batched at once.
- MAX_NUM_BATCHED_TOKENS (vLLM's): `--max-num-batched-tokens`, a positive integer: tokens per scheduler step.
- DOWNLOAD_DIR (vLLM's): `--download-dir`, where vLLM downloads a Hugging Face id to.
- PORT (8000): `--port`, 1-65535; the launcher also polls `/health` there.
- VLLM_API_KEY (none): passed on in the server's environment, where vLLM reads it like `--api-key` (a flag would
  show the key in the process list); clients must then send `Authorization: Bearer <key>`. Never logged.
- HF_TOKEN (none): passed on in the server's environment, where Hugging Face Hub reads it (gated models). Never logged.
- EXTRA_ARGS (none): more vLLM flags, split like a POSIX shell line and appended last (so they win over the above).
  Flags that carry a secret (`--api-key`, `--hf-token`, in any spelling vLLM's parser accepts) are refused with the
  variable to use instead: on a command line a secret shows in /proc/*/cmdline, `ps` and vLLM's start-up log. Its
  value is never echoed in an error (it may hold such a secret).
- VLLM_COMMAND (`vllm serve`): the server command, split like a shell line (tests run a stand-in for vLLM).
- COMPILE_CACHE_DIR (/var/cache/xla): an absolute directory on local disk, given to the server as
  VLLM_XLA_CACHE_PATH (what vLLM's TPU backend reads) and JAX_COMPILATION_CACHE_DIR.
- COMPILE_CACHE_BUCKET, COMPILE_CACHE_PREFIX (none; both or neither): share the compile cache through
  gs://BUCKET/PREFIX; a bare bucket name, and a folder such as `xla-cache/vllm-0.27.0/llama-3.1-70b-tp8`.
- COMPILE_CACHE_SYNC_SECONDS (600): how often, in seconds (> 0), new cache files are uploaded while serving.

With a bucket set: before the server starts, the local cache is seeded from gs://BUCKET/PREFIX (so a new replica
skips the minutes of XLA compilation another one already did); new or changed files are uploaded once the server
reports healthy, then every COMPILE_CACHE_SYNC_SECONDS, and once more after the server exits (on SIGTERM too).
The cache lives on local disk because XLA's cache written straight onto a GCS FUSE mount misses or fails. A sync
failure is logged as a warning and never stops serving.

SIGTERM and SIGINT are forwarded to the server; the launcher exits with the server's exit status (128 + N when a
signal N ended it). A bad variable ends the launcher with status 2 and a message naming it, before anything starts.
Credentials for the bucket: Workload Identity on GKE; STORAGE_EMULATOR_HOST points at an emulator in tests.
"""

import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from gcs_sync import PrefixSync, SyncStats, storage_client

log = logging.getLogger("launcher")

DEFAULT_PORT = 8000
DEFAULT_COMMAND = "vllm serve"
DEFAULT_CACHE_DIR = "/var/cache/xla"
DEFAULT_SYNC_SECONDS = 600.0
HEALTH_POLL_SECONDS = 1.0
# Periodic uploads leave out files this young: the server may still be writing them.
UPLOAD_MIN_AGE_SECONDS = 10.0

# vLLM's flags that carry a secret, and the environment variable that carries it instead (verified 2026-12-02):
# - `--api-key`: FrontendArgs.api_key in vllm-project/vllm vllm/entrypoints/openai/cli_args.py (commit 00522333);
#   api_server.py (commit 0001948b) authenticates with `args.api_key or [envs.VLLM_API_KEY]`, and vllm/envs.py
#   (commit 001f69f8) reads VLLM_API_KEY from the environment ("API key for vLLM API server").
# - `--hf-token`: ModelConfig.hf_token ("the token to use as HTTP bearer authorization for remote files"); with it
#   unset, huggingface_hub reads HF_TOKEN, which "will overwrite the token stored on the machine"
#   (https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables).
# vLLM's parser (FlexibleArgumentParser, an argparse.ArgumentParser) also takes `_` for `-` in flag names and, as
# argparse does by default, any unambiguous abbreviation: both spellings are refused too (see _secret_flag).
_SECRET_FLAGS = {
    "--api-key": ("VLLM_API_KEY", "vLLM reads it from its environment"),
    "--hf-token": ("HF_TOKEN", "Hugging Face Hub reads it from the environment"),
}

_POSITIVE_INT = re.compile(r"[1-9][0-9]*")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
# (environment variable, vLLM flag) for the flags that take a positive integer, in command-line order.
_INT_FLAGS = (
    ("TENSOR_PARALLEL_SIZE", "--tensor-parallel-size"),
    ("MAX_MODEL_LEN", "--max-model-len"),
    ("MAX_NUM_SEQS", "--max-num-seqs"),
    ("MAX_NUM_BATCHED_TOKENS", "--max-num-batched-tokens"),
)


class ConfigError(ValueError):
    """Every problem found in the environment, one per line, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Env:
    """Reads variables (empty means unset) and collects problems, so one run reports all of them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def get(self, name: str) -> str | None:
        return self._env.get(name) or None

    def positive_int(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not _POSITIVE_INT.fullmatch(value):
            self.problems.append(f"{name}: {value!r} is not a positive integer; allowed: a whole number >= 1")
            return None
        return value

    def split(self, name: str, example: str, show_value: bool = True) -> list[str]:
        value = self.get(name)
        if value is None:
            return []
        try:
            return shlex.split(value)
        except ValueError as error:
            shown = f" {value!r}" if show_value else ""
            self.problems.append(
                f"{name}:{shown} cannot be split like a shell command line ({error}); allowed: words quoted as "
                f"in a POSIX shell, e.g. {example}"
            )
            return []

    def not_a_flag(self, name: str, value: str, allowed: str) -> None:
        """A value vLLM takes as a word of its command line: one starting with `-` would be read as a flag."""
        if value.startswith("-"):
            self.problems.append(
                f"{name}: {value!r} starts with '-', so vLLM would read it as a flag; allowed: {allowed} "
                "(vLLM's flags go in EXTRA_ARGS)"
            )

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def _server_args(env: _Env) -> tuple[list[str], int]:
    model = env.get("MODEL")
    if model is None:
        env.problems.append(
            "MODEL: not set; allowed: a local path (e.g. the GCS FUSE mount of the staged weights) or a Hugging Face "
            "model id (e.g. meta-llama/Llama-3.1-70B-Instruct)"
        )
    else:
        env.not_a_flag("MODEL", model, "a local path or a Hugging Face model id")
    args = [model or ""]
    if served_names := env.get("SERVED_MODEL_NAME"):
        # One name keeps the `--flag=value` form of the other flags; vLLM's flag takes one or more values.
        names = served_names.split()
        for name in names:
            env.not_a_flag("SERVED_MODEL_NAME", name, "the names clients put in requests, e.g. llama-3.1-70b")
        args += [f"--served-model-name={names[0]}"] if len(names) == 1 else ["--served-model-name", *names]
    for name, flag in _INT_FLAGS:
        if (value := env.positive_int(name)) is not None:
            args.append(f"{flag}={value}")
    if download_dir := env.get("DOWNLOAD_DIR"):
        args.append(f"--download-dir={download_dir}")
    port = DEFAULT_PORT
    if (port_text := env.get("PORT")) is not None:
        if _POSITIVE_INT.fullmatch(port_text) and int(port_text) <= 65535:
            port = int(port_text)
        else:
            env.problems.append(f"PORT: {port_text!r} is not a TCP port; allowed: an integer from 1 to 65535")
    args.append(f"--port={port}")
    # EXTRA_ARGS is never echoed: a secret put there by mistake must not reach the log through its error.
    extra_args = env.split("EXTRA_ARGS", "--enable-prefix-caching --swap-space 16", show_value=False)
    for word in extra_args:
        if (secret_flag := _secret_flag(word)) is not None:
            variable, reader = _SECRET_FLAGS[secret_flag]
            given = word.split("=", 1)[0]
            spelled = given if given == secret_flag else f"{given} (vLLM's {secret_flag})"
            env.problems.append(
                f"EXTRA_ARGS: {spelled} carries a secret, which would show in the process list and the server's "
                f"start-up log; allowed: the secret in {variable} ({reader}), e.g. from a Kubernetes Secret"
            )
    args += extra_args
    return args, port


def _secret_flag(word: str) -> str | None:
    """The secret-bearing vLLM flag that `word` names (with `_` for `-`, `=VALUE`, or abbreviated), else None."""
    if not word.startswith("--") or len(word) <= 2:
        return None
    name = word.split("=", 1)[0].replace("_", "-")
    # An abbreviation is any prefix argparse could expand: refusing the ambiguous ones (`--api-`) costs nothing.
    return next((flag for flag in _SECRET_FLAGS if flag.startswith(name)), None)


def build_server_args(env: Mapping[str, str]) -> list[str]:
    """The arguments after `vllm serve`: the model, then one flag per variable set, then EXTRA_ARGS.

    Raises ConfigError naming every bad variable (the value, and what is allowed)."""
    reader = _Env(env)
    args, _ = _server_args(reader)
    reader.raise_problems()
    return args


@dataclass(frozen=True)
class CompileCache:
    local_dir: Path
    bucket: str | None
    prefix: str
    sync_seconds: float


def _compile_cache(env: _Env) -> CompileCache:
    local_dir = env.get("COMPILE_CACHE_DIR") or DEFAULT_CACHE_DIR
    if not local_dir.startswith("/"):
        env.problems.append(
            f"COMPILE_CACHE_DIR: {local_dir!r} is not an absolute path; allowed: a directory on local disk, "
            f"e.g. {DEFAULT_CACHE_DIR} (never a GCS FUSE mount: use COMPILE_CACHE_BUCKET to share the cache)"
        )
    bucket = env.get("COMPILE_CACHE_BUCKET")
    prefix = (env.get("COMPILE_CACHE_PREFIX") or "").strip("/")
    if bucket is not None and not _BUCKET_NAME.fullmatch(bucket):
        env.problems.append(
            f"COMPILE_CACHE_BUCKET: {bucket!r} is not a bucket name; allowed: the bare name, e.g. my-project-llama "
            "(the folder goes in COMPILE_CACHE_PREFIX)"
        )
    both_or_neither = "allowed: both (the cache is shared through gs://BUCKET/PREFIX) or neither (it stays on this pod)"
    if bucket is not None and not prefix:
        env.problems.append(f"COMPILE_CACHE_BUCKET: set without COMPILE_CACHE_PREFIX; {both_or_neither}")
    if bucket is None and prefix:
        env.problems.append(f"COMPILE_CACHE_PREFIX: set without COMPILE_CACHE_BUCKET; {both_or_neither}")
    sync_seconds = DEFAULT_SYNC_SECONDS
    if (sync_text := env.get("COMPILE_CACHE_SYNC_SECONDS")) is not None:
        parsed = _positive_seconds(sync_text)
        if parsed is None:
            env.problems.append(
                f"COMPILE_CACHE_SYNC_SECONDS: {sync_text!r} is not a positive number of seconds; allowed: e.g. 600"
            )
        sync_seconds = parsed or DEFAULT_SYNC_SECONDS
    return CompileCache(Path(local_dir), bucket, prefix, sync_seconds)


def _positive_seconds(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if 0 < seconds < float("inf") else None


@dataclass(frozen=True)
class LaunchConfig:
    command: list[str]
    """VLLM_COMMAND followed by the server arguments."""
    port: int
    cache: CompileCache

    def printable_command(self) -> str:
        """The command as a shell line. It holds no secret: those travel in the environment (see _SECRET_FLAGS)."""
        return shlex.join(self.command)


def load_config(env: Mapping[str, str]) -> LaunchConfig:
    """Everything the launcher reads from `env`; raises ConfigError naming every bad variable."""
    reader = _Env(env)
    server_args, port = _server_args(reader)
    command = reader.split("VLLM_COMMAND", "python3 -m vllm.entrypoints.openai.api_server") or shlex.split(
        DEFAULT_COMMAND
    )
    cache = _compile_cache(reader)
    reader.raise_problems()
    return LaunchConfig([*command, *server_args], port, cache)


def server_environment(env: Mapping[str, str], cache: CompileCache) -> dict[str, str]:
    return {**env, "VLLM_XLA_CACHE_PATH": str(cache.local_dir), "JAX_COMPILATION_CACHE_DIR": str(cache.local_dir)}


class CacheSyncer:
    """Uploads new compile-cache files once the server is healthy, then periodically, on a background thread."""

    def __init__(self, sync: PrefixSync, port: int, interval_s: float, server: subprocess.Popen[bytes]) -> None:
        self._sync = sync
        self._health_url = f"http://127.0.0.1:{port}/health"
        self._interval_s = interval_s
        self._server = server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compile-cache-sync", daemon=True)
        self._lock = threading.Lock()  # the final upload must not run beside a periodic one

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def upload(self, when: str, min_age_s: float) -> None:
        with self._lock:
            try:
                stats = self._sync.upload(min_age_seconds=min_age_s)
            except Exception as error:  # a cache that fails to sync must never take serving down
                log.warning("compile cache: uploading to %s %s failed: %s", self._sync.url, when, error)
                return
        _log_stats(f"uploaded to {self._sync.url} {when}", stats)

    def _healthy(self) -> bool:
        try:
            # trust_env=False: a proxy configured for the pod's outbound traffic must not see requests to 127.0.0.1.
            return httpx.get(self._health_url, timeout=5.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def _run(self) -> None:
        while not self._healthy():
            if self._stop.wait(HEALTH_POLL_SECONDS) or self._server.poll() is not None:
                return
        log.info("server is healthy")
        self.upload("after the server became healthy", UPLOAD_MIN_AGE_SECONDS)
        while not self._stop.wait(self._interval_s):
            self.upload("while serving", UPLOAD_MIN_AGE_SECONDS)


def _log_stats(what: str, stats: SyncStats) -> None:
    skipped = f", {stats.failed} skipped" if stats.failed else ""
    log.info(
        "compile cache: %s: %d files (%d bytes) copied, %d unchanged%s",
        what,
        stats.files,
        stats.bytes,
        stats.unchanged,
        skipped,
    )


def _exit_status(returncode: int) -> int:
    """A child killed by signal N reports -N; a shell reports 128 + N, which is what a container runtime expects."""
    return 128 - returncode if returncode < 0 else returncode


def run(config: LaunchConfig, env: Mapping[str, str]) -> int:
    received: list[int] = []
    server: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        received.append(signum)
        if server is not None and server.poll() is None:
            server.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    try:
        config.cache.local_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.error("COMPILE_CACHE_DIR: cannot create %s: %s", config.cache.local_dir, error.strerror)
        return 2
    sync: PrefixSync | None = None
    if config.cache.bucket is not None:
        try:
            sync = PrefixSync(storage_client().bucket(config.cache.bucket), config.cache.prefix, config.cache.local_dir)
            _log_stats(f"seeded from {sync.url}", sync.download())
        except Exception as error:  # serving without a warm cache is slow, not wrong
            log.warning(
                "compile cache: seeding from gs://%s/%s failed: %s", config.cache.bucket, config.cache.prefix, error
            )
    if received:
        log.info("stopping before the server started")
        return 128 + received[-1]

    log.info("starting: %s", config.printable_command())
    # A session of its own: a terminal's Ctrl-C reaches the server once, through `forward`, not twice.
    try:
        server = subprocess.Popen(config.command, env=server_environment(env, config.cache), start_new_session=True)
    except OSError as error:
        log.error("cannot start the server %r: %s", config.command[0], error.strerror)
        return 127  # what a shell answers for a command it cannot run
    if received:  # a signal that came while the server was being started
        server.send_signal(received[-1])

    syncer = CacheSyncer(sync, config.port, config.cache.sync_seconds, server) if sync is not None else None
    if syncer is not None:
        syncer.start()
    status = _exit_status(server.wait())
    log.info("server exited with status %d", status)
    if syncer is not None:
        syncer.stop()
        # The server has closed every cache file by now, so nothing is too young to upload.
        syncer.upload("after the server exited", 0.0)
    return status


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="launcher: %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = load_config(os.environ)
    except ConfigError as error:
        for problem in error.problems:
            print(f"launcher: error: {problem}", file=sys.stderr)
        return 2
    return run(config, os.environ)


if __name__ == "__main__":
    sys.exit(main())
