"""The serving container's entrypoint: environment -> vLLM flags (pure), and the launcher run for real as a process
with the OpenAI test double (a stand-in for `vllm serve`) as its server and gcp-storage-emulator as the bucket."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import launcher
import pytest
from google.cloud import storage

sys.path.insert(0, str(Path(__file__).parent))  # the fixtures module beside this file (pytest runs in importlib mode)
from storage_emulators import GcsEmulator, gcs_emulator, gcs_emulator_server

__all__ = ["gcs_emulator", "gcs_emulator_server"]  # fixtures, used by name

pytestmark = pytest.mark.workload

LAUNCHER = Path(launcher.__file__).resolve()
MODEL = "/data/models/llama-3.1-70b"
BASE = {"MODEL": MODEL}

# --- build_server_args ----------------------------------------------------------------------------------------


def test_only_the_model_and_the_default_port_are_passed_when_nothing_else_is_set():
    assert launcher.build_server_args(BASE) == [MODEL, "--port=8000"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SERVED_MODEL_NAME", "llama-3.1-70b", [MODEL, "--served-model-name=llama-3.1-70b", "--port=8000"]),
        (
            "SERVED_MODEL_NAME",
            "meta-llama/Llama-3.1-70B  llama-70b",
            [MODEL, "--served-model-name", "meta-llama/Llama-3.1-70B", "llama-70b", "--port=8000"],
        ),
        ("TENSOR_PARALLEL_SIZE", "8", [MODEL, "--tensor-parallel-size=8", "--port=8000"]),
        ("MAX_MODEL_LEN", "4096", [MODEL, "--max-model-len=4096", "--port=8000"]),
        ("MAX_NUM_SEQS", "256", [MODEL, "--max-num-seqs=256", "--port=8000"]),
        ("MAX_NUM_BATCHED_TOKENS", "8192", [MODEL, "--max-num-batched-tokens=8192", "--port=8000"]),
        ("DOWNLOAD_DIR", "/tmp/hf", [MODEL, "--download-dir=/tmp/hf", "--port=8000"]),
        ("PORT", "9000", [MODEL, "--port=9000"]),
        ("VLLM_API_KEY", "s3cret", [MODEL, "--port=8000"]),  # reaches vLLM through its environment only
        ("EXTRA_ARGS", "--enable-prefix-caching", [MODEL, "--port=8000", "--enable-prefix-caching"]),
        ("TENSOR_PARALLEL_SIZE", "", [MODEL, "--port=8000"]),  # empty counts as unset
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_variable_becomes_its_flag(name: str, value: str, expected: list[str]):
    assert launcher.build_server_args({**BASE, name: value}) == expected


def test_flags_come_in_a_fixed_order_with_extra_args_last():
    env = {
        "EXTRA_ARGS": "--max-model-len 2048",
        "VLLM_API_KEY": "k",
        "PORT": "8080",
        "DOWNLOAD_DIR": "/d",
        "MAX_NUM_BATCHED_TOKENS": "1024",
        "MAX_NUM_SEQS": "64",
        "MAX_MODEL_LEN": "4096",
        "TENSOR_PARALLEL_SIZE": "8",
        "SERVED_MODEL_NAME": "llama",
        "MODEL": MODEL,
    }

    assert launcher.build_server_args(env) == [
        MODEL,
        "--served-model-name=llama",
        "--tensor-parallel-size=8",
        "--max-model-len=4096",
        "--max-num-seqs=64",
        "--max-num-batched-tokens=1024",
        "--download-dir=/d",
        "--port=8080",
        "--max-model-len",  # later flags win in vLLM's parser: EXTRA_ARGS can override
        "2048",
    ]


@pytest.mark.parametrize(
    ("extra_args", "expected"),
    [
        ("--enable-prefix-caching --swap-space 16", ["--enable-prefix-caching", "--swap-space", "16"]),
        (
            "--override-generation-config '{\"temperature\": 0.6}'",
            ["--override-generation-config", '{"temperature": 0.6}'],
        ),
        ('--chat-template "/templates/llama 3.jinja"', ["--chat-template", "/templates/llama 3.jinja"]),
        ("  --enforce-eager \n", ["--enforce-eager"]),
    ],
    ids=["words", "single-quoted-json", "double-quoted-space", "surrounding-whitespace"],
)
def test_extra_args_are_split_like_a_shell_line(extra_args: str, expected: list[str]):
    assert launcher.build_server_args({**BASE, "EXTRA_ARGS": extra_args}) == [MODEL, "--port=8000", *expected]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {},
            "MODEL: not set; allowed: a local path (e.g. the GCS FUSE mount of the staged weights) or a Hugging Face model id (e.g. meta-llama/Llama-3.1-70B-Instruct)",
        ),
        (
            {**BASE, "TENSOR_PARALLEL_SIZE": "eight"},
            "TENSOR_PARALLEL_SIZE: 'eight' is not a positive integer; allowed: a whole number >= 1",
        ),
        (
            {**BASE, "TENSOR_PARALLEL_SIZE": "0"},
            "TENSOR_PARALLEL_SIZE: '0' is not a positive integer; allowed: a whole number >= 1",
        ),
        (
            {**BASE, "MAX_MODEL_LEN": "-4096"},
            "MAX_MODEL_LEN: '-4096' is not a positive integer; allowed: a whole number >= 1",
        ),
        (
            {**BASE, "MAX_NUM_SEQS": "8.0"},
            "MAX_NUM_SEQS: '8.0' is not a positive integer; allowed: a whole number >= 1",
        ),
        (
            {**BASE, "MAX_NUM_BATCHED_TOKENS": "8k"},
            "MAX_NUM_BATCHED_TOKENS: '8k' is not a positive integer; allowed: a whole number >= 1",
        ),
        ({**BASE, "PORT": "70000"}, "PORT: '70000' is not a TCP port; allowed: an integer from 1 to 65535"),
        ({**BASE, "PORT": "http"}, "PORT: 'http' is not a TCP port; allowed: an integer from 1 to 65535"),
        (
            {**BASE, "EXTRA_ARGS": "--chat-template 'x"},
            # EXTRA_ARGS's value is never echoed: it may hold a secret (see the secret-flag tests below).
            "EXTRA_ARGS: cannot be split like a shell command line (No closing quotation); allowed: words quoted as in a POSIX shell, e.g. --enable-prefix-caching --swap-space 16",
        ),
    ],
    ids=[
        "model-unset",
        "tp-word",
        "tp-zero",
        "len-negative",
        "seqs-float",
        "tokens-suffix",
        "port-range",
        "port-word",
        "extra-quote",
    ],
)
def test_a_bad_variable_is_rejected_naming_it_its_value_and_what_is_allowed(env: dict[str, str], message: str):
    with pytest.raises(launcher.ConfigError) as error:
        launcher.build_server_args(env)

    assert error.value.problems == [message]


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(launcher.ConfigError) as error:
        launcher.load_config({"TENSOR_PARALLEL_SIZE": "x", "COMPILE_CACHE_SYNC_SECONDS": "0"})

    assert [problem.split(":")[0] for problem in error.value.problems] == [
        "MODEL",
        "TENSOR_PARALLEL_SIZE",
        "COMPILE_CACHE_SYNC_SECONDS",
    ]


# --- load_config: the command and the compile cache -----------------------------------------------------------


def test_by_default_the_command_is_vllm_serve_and_the_cache_is_local_at_var_cache_xla():
    config = launcher.load_config(BASE)

    assert config.command == ["vllm", "serve", MODEL, "--port=8000"]
    assert config.port == 8000
    assert config.cache == launcher.CompileCache(Path("/var/cache/xla"), bucket=None, prefix="", sync_seconds=600.0)


def test_vllm_command_is_split_and_put_before_the_server_args():
    config = launcher.load_config({**BASE, "VLLM_COMMAND": "python3 -m vllm.entrypoints.openai.api_server"})

    assert config.command == ["python3", "-m", "vllm.entrypoints.openai.api_server", MODEL, "--port=8000"]


def test_the_compile_cache_settings_are_read_with_the_prefix_trimmed_of_slashes():
    config = launcher.load_config(
        {
            **BASE,
            "COMPILE_CACHE_DIR": "/mnt/cache",
            "COMPILE_CACHE_BUCKET": "my-project-llama",
            "COMPILE_CACHE_PREFIX": "/xla-cache/v1/",
            "COMPILE_CACHE_SYNC_SECONDS": "30.5",
        }
    )

    assert config.cache == launcher.CompileCache(Path("/mnt/cache"), "my-project-llama", "xla-cache/v1", 30.5)


def test_the_server_gets_the_cache_directory_as_vllm_xla_cache_path_and_jax_compilation_cache_dir():
    cache = launcher.load_config(BASE).cache

    env = launcher.server_environment({"PATH": "/usr/bin"}, cache)

    assert env == {
        "PATH": "/usr/bin",
        "VLLM_XLA_CACHE_PATH": "/var/cache/xla",
        "JAX_COMPILATION_CACHE_DIR": "/var/cache/xla",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"COMPILE_CACHE_DIR": "cache"},
            "COMPILE_CACHE_DIR: 'cache' is not an absolute path; allowed: a directory on local disk, e.g. /var/cache/xla (never a GCS FUSE mount: use COMPILE_CACHE_BUCKET to share the cache)",
        ),
        (
            {"COMPILE_CACHE_BUCKET": "gs://b", "COMPILE_CACHE_PREFIX": "x"},
            "COMPILE_CACHE_BUCKET: 'gs://b' is not a bucket name; allowed: the bare name, e.g. my-project-llama (the folder goes in COMPILE_CACHE_PREFIX)",
        ),
        (
            {"COMPILE_CACHE_BUCKET": "bucket"},
            "COMPILE_CACHE_BUCKET: set without COMPILE_CACHE_PREFIX; allowed: both (the cache is shared through gs://BUCKET/PREFIX) or neither (it stays on this pod)",
        ),
        (
            {"COMPILE_CACHE_PREFIX": "xla"},
            "COMPILE_CACHE_PREFIX: set without COMPILE_CACHE_BUCKET; allowed: both (the cache is shared through gs://BUCKET/PREFIX) or neither (it stays on this pod)",
        ),
        (
            {"COMPILE_CACHE_SYNC_SECONDS": "soon"},
            "COMPILE_CACHE_SYNC_SECONDS: 'soon' is not a positive number of seconds; allowed: e.g. 600",
        ),
        (
            {"COMPILE_CACHE_SYNC_SECONDS": "-1"},
            "COMPILE_CACHE_SYNC_SECONDS: '-1' is not a positive number of seconds; allowed: e.g. 600",
        ),
        (
            {"VLLM_COMMAND": "python3 'x"},
            'VLLM_COMMAND: "python3 \'x" cannot be split like a shell command line (No closing quotation); allowed: words quoted as in a POSIX shell, e.g. python3 -m vllm.entrypoints.openai.api_server',
        ),
    ],
    ids=["dir-relative", "bucket-uri", "bucket-alone", "prefix-alone", "sync-word", "sync-negative", "command-quote"],
)
def test_a_bad_cache_or_command_variable_is_rejected_naming_it(env: dict[str, str], message: str):
    with pytest.raises(launcher.ConfigError) as error:
        launcher.load_config({**BASE, **env})

    assert error.value.problems == [message]


def test_the_api_key_variable_never_appears_on_the_command_line():
    config = launcher.load_config({**BASE, "VLLM_API_KEY": "s3cret"})

    assert "s3cret" not in " ".join(config.command) + config.printable_command()


API_KEY_REFUSED = (
    "carries a secret, which would show in the process list and the server's start-up log; allowed: the secret in "
    "VLLM_API_KEY (vLLM reads it from its environment), e.g. from a Kubernetes Secret"
)
HF_TOKEN_REFUSED = (
    "carries a secret, which would show in the process list and the server's start-up log; allowed: the secret in "
    "HF_TOKEN (Hugging Face Hub reads it from the environment), e.g. from a Kubernetes Secret"
)


@pytest.mark.parametrize(
    ("extra_args", "message"),
    [
        ("--api-key s3cret", f"EXTRA_ARGS: --api-key {API_KEY_REFUSED}"),
        ("--api-key=s3cret", f"EXTRA_ARGS: --api-key {API_KEY_REFUSED}"),
        # vLLM's parser takes _ for - and, as argparse does, unambiguous abbreviations.
        ("--api_key s3cret", f"EXTRA_ARGS: --api_key (vLLM's --api-key) {API_KEY_REFUSED}"),
        ("--api-k=s3cret", f"EXTRA_ARGS: --api-k (vLLM's --api-key) {API_KEY_REFUSED}"),
        ("--enable-prefix-caching --hf-token s3cret", f"EXTRA_ARGS: --hf-token {HF_TOKEN_REFUSED}"),
        ("--hf_token=s3cret", f"EXTRA_ARGS: --hf_token (vLLM's --hf-token) {HF_TOKEN_REFUSED}"),
    ],
    ids=["api-key", "api-key-equals", "api-key-underscore", "api-key-abbreviated", "hf-token", "hf-token-underscore"],
)
def test_a_secret_bearing_flag_in_extra_args_is_refused_naming_the_variable_to_use(extra_args: str, message: str):
    with pytest.raises(launcher.ConfigError) as error:
        launcher.load_config({**BASE, "EXTRA_ARGS": extra_args})

    assert error.value.problems == [message]
    assert "s3cret" not in str(error.value)


def test_extra_args_that_cannot_be_split_are_refused_without_echoing_a_secret_in_them():
    with pytest.raises(launcher.ConfigError) as error:
        launcher.load_config({**BASE, "EXTRA_ARGS": "--hf-token 's3cret"})

    assert "s3cret" not in str(error.value)


def test_flags_that_only_share_a_beginning_with_a_secret_flag_pass():
    extra_args = "--api-server-count 2 --hf-overrides {} --hf-config-path /cfg"

    assert launcher.build_server_args({**BASE, "EXTRA_ARGS": extra_args})[2:] == extra_args.split()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MODEL": "--trust-remote-code"},
            "MODEL: '--trust-remote-code' starts with '-', so vLLM would read it as a flag; allowed: a local path or a Hugging Face model id (vLLM's flags go in EXTRA_ARGS)",
        ),
        (
            {**BASE, "SERVED_MODEL_NAME": "-llama"},
            "SERVED_MODEL_NAME: '-llama' starts with '-', so vLLM would read it as a flag; allowed: the names clients put in requests, e.g. llama-3.1-70b (vLLM's flags go in EXTRA_ARGS)",
        ),
    ],
    ids=["model", "served-model-name"],
)
def test_a_model_or_served_name_that_starts_with_a_dash_is_refused(env: dict[str, str], message: str):
    with pytest.raises(launcher.ConfigError) as error:
        launcher.build_server_args(env)

    assert error.value.problems == [message]


def test_the_printed_command_is_the_command():
    config = launcher.load_config({**BASE, "EXTRA_ARGS": "--enable-prefix-caching"})

    assert config.printable_command() == f"vllm serve {MODEL} --port=8000 --enable-prefix-caching"


# --- the launcher as a process --------------------------------------------------------------------------------

SEEDED_NAME = "seeded-entry"
SEEDED_BYTES = b"a compiled program from another replica"


@pytest.fixture
def cache_bucket(gcs_emulator: GcsEmulator) -> storage.Bucket:
    bucket = gcs_emulator.create_bucket("compile-cache")
    bucket.blob(f"xla/v1/{SEEDED_NAME}").upload_from_string(SEEDED_BYTES)
    return bucket


class Launched:
    def __init__(self, process: subprocess.Popen[bytes], url: str, cache_dir: Path, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.cache_dir = cache_dir
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout_s: float = 15.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


@pytest.fixture
def launch(
    tmp_path: Path,
    gcs_emulator: GcsEmulator,
    test_server_command: tuple[str, ...],
    free_port: int,
    wait_for_health: Callable[..., None],
    stop_process: Callable[[subprocess.Popen[bytes]], None],
) -> Iterator[Callable[..., Launched]]:
    """Starts `python launcher.py` with the test double as its server (and waits until it is healthy)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(wait: bool = True, **overrides: str) -> Launched:
        cache_dir = tmp_path / "xla-cache"
        log_path = tmp_path / "launcher.log"
        env = {
            **os.environ,
            "MODEL": MODEL,
            "SERVED_MODEL_NAME": "llama-3.1-70b",
            "TENSOR_PARALLEL_SIZE": "8",
            "MAX_MODEL_LEN": "4096",
            "PORT": str(free_port),
            "VLLM_API_KEY": "test-secret",
            "COMPILE_CACHE_DIR": str(cache_dir),
            "COMPILE_CACHE_BUCKET": "compile-cache",
            "COMPILE_CACHE_PREFIX": "xla/v1",
            "STORAGE_EMULATOR_HOST": gcs_emulator.url,
            # The test double understands `vllm serve MODEL ...` when its first argument is `serve`.
            "VLLM_COMMAND": shlex.join([*test_server_command, "serve"]),
            **overrides,
        }
        with log_path.open("wb") as log_file:
            process = subprocess.Popen([sys.executable, str(LAUNCHER)], env=env, stdout=log_file, stderr=log_file)
        started.append(process)
        url = f"http://127.0.0.1:{env['PORT']}"
        if wait:
            wait_for_health(url, process)
        return Launched(process, url, cache_dir, log_path)

    yield start
    for process in started:
        # SIGTERM first, which the launcher forwards to the server it started in a session of its own: a SIGKILL
        # alone would leave that server running with nobody to stop it.
        stop_process(process)


def test_the_server_starts_with_the_flags_and_a_cache_seeded_from_the_bucket(
    launch: Callable[..., Launched], cache_bucket: storage.Bucket, free_port: int
):
    launched = launch()

    recorded = httpx.get(f"{launched.url}/test/argv").json()
    assert recorded["argv"] == [
        "serve",
        MODEL,
        "--served-model-name=llama-3.1-70b",
        "--tensor-parallel-size=8",
        "--max-model-len=4096",
        f"--port={free_port}",
    ]
    assert recorded["env"]["VLLM_API_KEY"] == "test-secret"
    assert recorded["env"]["VLLM_XLA_CACHE_PATH"] == str(launched.cache_dir)
    assert recorded["env"]["JAX_COMPILATION_CACHE_DIR"] == str(launched.cache_dir)
    assert (launched.cache_dir / SEEDED_NAME).read_bytes() == SEEDED_BYTES
    launched.stop()
    log = launched.log()
    seeded = log.index(
        f"compile cache: seeded from gs://compile-cache/xla/v1: 1 files ({len(SEEDED_BYTES)} bytes) copied, 0 unchanged"
    )
    assert seeded < log.index("starting: ")
    assert "test-secret" not in log


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc (Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The fields after the command name (which may hold spaces and parentheses): state, then the parent's id.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_api_key_and_hf_token_reach_the_server_only_through_its_environment(launch: Callable[..., Launched]):
    launched = launch(VLLM_API_KEY="key-s3cret", HF_TOKEN="hf_s3cret", COMPILE_CACHE_BUCKET="", COMPILE_CACHE_PREFIX="")

    recorded = httpx.get(f"{launched.url}/test/argv").json()
    # What `ps` shows: the command lines of the launcher and of the server it started.
    command_lines = [_cmdline(pid) for pid in (launched.process.pid, *_children(launched.process.pid))]
    launched.stop()
    assert (recorded["env"]["VLLM_API_KEY"], recorded["env"]["HF_TOKEN"]) == ("key-s3cret", "hf_s3cret")
    assert len(command_lines) == 2
    for seen in (" ".join(recorded["argv"]), *command_lines, launched.log()):
        assert "s3cret" not in seen
    assert "starting: " in launched.log()


def test_a_secret_flag_in_extra_args_exits_2_before_anything_starts_without_logging_the_secret(tmp_path: Path):
    marker = tmp_path / "started"
    env = {
        "PATH": os.environ["PATH"],
        "MODEL": MODEL,
        "EXTRA_ARGS": "--hf-token hf_s3cret",
        # A server that would leave a file behind if it were started.
        "VLLM_COMMAND": shlex.join([sys.executable, "-c", f"open({str(marker)!r}, 'w')"]),
        "COMPILE_CACHE_DIR": str(tmp_path / "cache"),
    }

    finished = subprocess.run([sys.executable, str(LAUNCHER)], env=env, capture_output=True, text=True, timeout=30)

    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [f"launcher: error: EXTRA_ARGS: --hf-token {HF_TOKEN_REFUSED}"]
    assert "s3cret" not in finished.stdout + finished.stderr
    assert not marker.exists()


def test_sigterm_stops_the_server_uploads_new_cache_files_and_exits_with_the_servers_status(
    launch: Callable[..., Launched], cache_bucket: storage.Bucket
):
    launched = launch()
    (launched.cache_dir / "compiled" / "decode-bs8").parent.mkdir()
    (launched.cache_dir / "compiled" / "decode-bs8").write_bytes(b"freshly compiled")

    status = launched.stop()

    # uvicorn (which vLLM's server runs on too) re-raises SIGTERM after its graceful shutdown: a shell's 128 + 15.
    assert status == 128 + signal.SIGTERM
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{launched.url}/health", timeout=1.0)
    assert cache_bucket.blob("xla/v1/compiled/decode-bs8").download_as_bytes() == b"freshly compiled"
    assert (
        "compile cache: uploaded to gs://compile-cache/xla/v1 after the server exited: 1 files (16 bytes) copied, 1 unchanged"
        in launched.log()
    )


def _wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s")
        time.sleep(0.1)


def test_while_serving_cache_files_are_uploaded_every_sync_interval_once_they_stop_changing(
    launch: Callable[..., Launched], cache_bucket: storage.Bucket
):
    launched = launch(COMPILE_CACHE_SYNC_SECONDS="0.2")
    _wait_until(lambda: "after the server became healthy" in launched.log())
    finished = launched.cache_dir / "prefill-bs1"
    finished.write_bytes(b"compiled while serving")
    an_hour_ago = time.time() - 3600
    os.utime(finished, (an_hour_ago, an_hour_ago))
    being_written = launched.cache_dir / "decode-bs16"
    being_written.write_bytes(b"half of a program")  # modified just now: the server may still be writing it

    _wait_until(lambda: cache_bucket.blob("xla/v1/prefill-bs1").exists())

    assert launched.process.poll() is None
    assert cache_bucket.blob("xla/v1/prefill-bs1").download_as_bytes() == b"compiled while serving"
    assert "uploaded to gs://compile-cache/xla/v1 while serving: 1 files (22 bytes) copied" in launched.log()
    assert not cache_bucket.blob("xla/v1/decode-bs16").exists()


def test_a_cache_bucket_that_cannot_be_read_is_a_warning_and_serving_goes_on(
    launch: Callable[..., Launched], gcs_emulator: GcsEmulator
):
    launched = launch(COMPILE_CACHE_BUCKET="no-such-bucket")

    assert httpx.get(f"{launched.url}/health").status_code == 200
    assert launched.stop() == 128 + signal.SIGTERM
    log = launched.log()
    assert "launcher: WARNING compile cache: seeding from gs://no-such-bucket/xla/v1 failed: 404" in log
    assert (
        "launcher: WARNING compile cache: uploading to gs://no-such-bucket/xla/v1 after the server exited failed: 404"
        in log
    )


@pytest.mark.parametrize(
    ("server", "status"),
    [
        ("import sys; sys.exit(3)", 3),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + signal.SIGKILL),
    ],
    ids=["exit-3", "killed"],
)
def test_the_launcher_exits_with_the_servers_status(launch: Callable[..., Launched], server: str, status: int):
    # Stand-in servers that end by themselves: one exits 3, one is killed by a signal.
    launched = launch(
        wait=False,
        VLLM_COMMAND=shlex.join([sys.executable, "-c", server]),
        COMPILE_CACHE_BUCKET="",
        COMPILE_CACHE_PREFIX="",
    )

    assert launched.process.wait(timeout=15) == status


def test_a_server_command_that_cannot_run_exits_127_naming_it(launch: Callable[..., Launched]):
    launched = launch(
        wait=False, VLLM_COMMAND="/nonexistent/vllm serve", COMPILE_CACHE_BUCKET="", COMPILE_CACHE_PREFIX=""
    )

    assert launched.process.wait(timeout=15) == 127
    assert "launcher: ERROR cannot start the server '/nonexistent/vllm': No such file or directory" in launched.log()


def test_a_bad_variable_exits_2_before_anything_starts(tmp_path: Path):
    env = {"PATH": os.environ["PATH"], "MODEL": MODEL, "TENSOR_PARALLEL_SIZE": "eight", "PORT": "0"}

    finished = subprocess.run([sys.executable, str(LAUNCHER)], env=env, capture_output=True, text=True, timeout=30)

    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        "launcher: error: TENSOR_PARALLEL_SIZE: 'eight' is not a positive integer; allowed: a whole number >= 1",
        "launcher: error: PORT: '0' is not a TCP port; allowed: an integer from 1 to 65535",
    ]
