"""Orchestration for the real-client conformance suite.

Session fixtures start the mock provider (``switchyard-mock``) and the gateway
(``switchyard``) from prebuilt binaries, and tear them down afterwards. Nothing is built
here: point ``SWITCHYARD_BIN`` / ``SWITCHYARD_MOCK_BIN`` at binaries, or build
``target/debug/switchyard{,-mock}`` first (run.sh does that when they are missing).

``CONFORMANCE_TARGET=mock`` aims the clients at the mock's own ``/v1`` instead of the
gateway (passthrough group only; gateway-only tests are deselected).
"""

from __future__ import annotations

import os
import re
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
NODE_MODULES = HERE / "node_modules"

# Test-only credentials (not secrets): the gateway's master key and the mock's upstream key.
MASTER_KEY = "sk-switchyard-test"
MOCK_UPSTREAM_KEY = "sk-mock"

GROUPS = ("passthrough", "bridged", "azure", "azure-chat", "azure-ai", "bedrock", "anthropic",
          "gemini", "vertex-gemini", "vertex-claude", "fallback")
# Groups whose model is Gemini 3, which refuses a replayed function call without its thought
# signature. `gemini-3` is served only to the tests that name it (not part of GROUPS).
GEMINI3_GROUPS = ("gemini-3", "vertex-gemini")
TARGET_KIND = os.environ.get("CONFORMANCE_TARGET", "gateway").strip().lower() or "gateway"
if TARGET_KIND not in ("gateway", "mock"):
    raise pytest.UsageError(f"CONFORMANCE_TARGET must be 'gateway' or 'mock', not {TARGET_KIND!r}")

STARTUP_TIMEOUT = float(os.environ.get("CONFORMANCE_STARTUP_TIMEOUT", "30"))
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 200

# Environment variables that must never leak from the developer's shell into the clients.
_SCRUBBED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
                 "CODEX_HOME", "CODEX_API_KEY")


# --------------------------------------------------------------------------- processes


def _binary(env_var: str, default_name: str) -> Path:
    raw = os.environ.get(env_var)
    path = Path(raw) if raw else REPO_ROOT / "target" / "debug" / default_name
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        how = f"${env_var}={raw}" if raw else f"default {path} (set ${env_var} to override)"
        pytest.exit(
            f"conformance: binary not found or not executable: {how}.\n"
            "Build it first: cargo build -p switchyard-server -p switchyard-mock "
            "(tests/conformance/run.sh does this when SWITCHYARD_BIN is unset).",
            returncode=2,
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll_until(predicate, timeout: float, interval: float = 0.05):
    """Call ``predicate`` until it returns a truthy value or ``timeout`` elapses."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class ManagedProcess:
    """A server subprocess whose stdout+stderr go to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.stopped = False
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,  # own process group, so stop() also reaps any children
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self, start: int = 0) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, start: int = 0, lines: int = LOG_TAIL_LINES) -> str:
        text = self.log_text(start).splitlines()
        cut = f"[... {len(text) - lines} earlier lines in {self.log_path}]\n" if len(text) > lines else ""
        return cut + "\n".join(text[-lines:])

    def describe_failure(self, what: str) -> str:
        status = "running" if self.alive() else f"exited with code {self.proc.returncode}"
        return (f"{self.name}: {what} ({status}).\ncommand: {' '.join(self.argv)}\n"
                f"--- {self.name} log ({self.log_path}) ---\n{self.log_tail() or '<empty>'}")

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if still running after STOP_TIMEOUT."""
        self.stopped = True
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # the leader may be gone while children linger
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._log.close()


# Servers started in this session, by name, so failure reports can show their logs.
SERVERS: dict[str, ManagedProcess] = {}


def _server_env() -> dict[str, str]:
    # Config and log format are the harness's choice (tests read the gateway's text log).
    scrub = {*_SCRUBBED_ENV, "SWITCHYARD_CONFIG", "SWITCHYARD_LOG_FORMAT", "RUST_LOG"}
    env = {k: v for k, v in os.environ.items() if k not in scrub}
    env["RUST_LOG"] = os.environ.get("CONFORMANCE_RUST_LOG", "info")
    env.setdefault("RUST_BACKTRACE", "1")
    return env


def start_mock(log_dir: Path) -> tuple[ManagedProcess, str]:
    binary = _binary("SWITCHYARD_MOCK_BIN", "switchyard-mock")
    mock = ManagedProcess("switchyard-mock", [str(binary), "--host", "127.0.0.1", "--port", "0"],
                          log_dir / "switchyard-mock.log", env=_server_env())
    SERVERS[mock.name] = mock
    pattern = re.compile(r"switchyard-mock listening on (http://[^\s/]+)")

    def ready():
        m = pattern.search(mock.log_text())
        return m.group(1) if m else (not mock.alive() and "dead")

    url = poll_until(ready, STARTUP_TIMEOUT)
    if not url or url == "dead":
        raise RuntimeError(mock.describe_failure(
            f"did not print 'switchyard-mock listening on http://HOST:PORT' within {STARTUP_TIMEOUT:.0f}s"))
    return mock, url


# The test service account the mock's OAuth endpoint trusts (a committed fixture, not a secret).
TEST_SERVICE_ACCOUNT_KEY = REPO_ROOT / "crates" / "switchyard-mock" / "testdata" / "vertex-test-key.pem"


def write_service_account(log_dir: Path, mock_url: str) -> Path:
    """A service-account key file for the test account whose token_uri is the mock's /token."""
    path = log_dir / "vertex-service-account.json"
    path.write_text(json.dumps({
        "type": "service_account",
        "project_id": "mock-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": TEST_SERVICE_ACCOUNT_KEY.read_text(),
        "client_email": "switchyard-test@mock-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": f"{mock_url}/token",
    }))
    return path


def gateway_config(mock_url: str, service_account: Path, database: Path) -> str:
    aliases = "\n".join(f"    gpt-compact-{group}: {group}" for group in GROUPS)
    return f"""\
model_list:
  - model_name: passthrough          # native OpenAI Responses upstream
    litellm_params:
      model: openai/gpt-mock
      api_base: {mock_url}/v1
      api_key: {MOCK_UPSTREAM_KEY}
  - model_name: bridged              # OpenAI-compatible Chat Completions upstream (Responses->chat bridge)
    litellm_params:
      model: hosted_vllm/mock-llama
      api_base: {mock_url}/vllm/v1
  - model_name: azure                # Azure OpenAI, Responses API (dated api-version, api-key header)
    litellm_params:
      model: azure/gpt-mock-deployment
      api_base: {mock_url}
      api_key: {MOCK_UPSTREAM_KEY}
      api_version: 2025-04-01-preview
  - model_name: azure-chat           # Azure OpenAI, Chat Completions on the deployment URL
    litellm_params:
      model: azure/gpt-mock-deployment
      api_base: {mock_url}
      api_key: {MOCK_UPSTREAM_KEY}
      use_chat_completions_api: true
  - model_name: azure-ai             # Azure AI Foundry model inference
    litellm_params:
      model: azure_ai/mock-deepseek
      api_base: {mock_url}/models
      api_key: {MOCK_UPSTREAM_KEY}
  - model_name: bedrock              # AWS Bedrock Converse (SigV4 with the documented example keys, which the mock verifies)
    litellm_params:
      model: "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0"
      aws_bedrock_runtime_endpoint: {mock_url}
      aws_region_name: us-east-1
      aws_access_key_id: AKIDEXAMPLE
      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
  - model_name: anthropic            # Anthropic Messages upstream (Responses->Messages translation)
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {mock_url}/anthropic
      api_key: {MOCK_UPSTREAM_KEY}
  - model_name: gemini               # Gemini API (generateContent, CRLF SSE, thought signatures)
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {mock_url}
      api_key: {MOCK_UPSTREAM_KEY}
  - model_name: gemini-3             # Gemini 3 on the Gemini API: the mock requires thought signatures back
    litellm_params:
      model: gemini/gemini-3-pro-preview
      api_base: {mock_url}
      api_key: {MOCK_UPSTREAM_KEY}
  - model_name: vertex-gemini        # Gemini on Vertex AI, service-account OAuth against the mock
    litellm_params:
      model: vertex_ai/gemini-3-flash-preview
      api_base: {mock_url}
      vertex_project: mock-project
      vertex_location: us-central1
      vertex_credentials: {service_account}
  - model_name: vertex-claude        # Claude on Vertex AI (rawPredict), same service account
    litellm_params:
      model: vertex_ai/claude-sonnet-4-5@20250929
      api_base: {mock_url}
      vertex_project: mock-project
      vertex_location: us-east5
      vertex_credentials: {service_account}
  - model_name: fallback             # a Responses upstream that refuses connections, falling back to Anthropic
    litellm_params:
      model: openai/gpt-down
      api_base: http://127.0.0.1:9/v1
      api_key: {MOCK_UPSTREAM_KEY}
router_settings:
  fallbacks: [{{fallback: [anthropic]}}]
  model_group_alias:                 # OpenAI-style names for clients that insist on one (the Agents SDK's compaction)
{aliases}
general_settings:
  master_key: {MASTER_KEY}
switchyard_settings:
  spend_log_path: {database}   # spend logs and the response store: fresh for every session
"""


def _liveliness(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/liveliness", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def start_gateway(log_dir: Path, mock_url: str) -> tuple[ManagedProcess, str]:
    binary = _binary("SWITCHYARD_BIN", "switchyard")
    config = log_dir / "switchyard.yaml"
    config.write_text(gateway_config(mock_url, write_service_account(log_dir, mock_url),
                                     log_dir / "switchyard.db"))
    last_error = ""
    for attempt in range(1, 4):  # an early exit may be a lost race for the port: retry on a fresh one
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        gw = ManagedProcess(
            "switchyard",
            [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            log_dir / f"switchyard.{attempt}.log", env=_server_env(),
        )
        SERVERS[gw.name] = gw
        poll_until(lambda: _liveliness(url) or not gw.alive(), STARTUP_TIMEOUT)  # noqa: B023
        if gw.alive() and _liveliness(url):
            return gw, url
        exited = not gw.alive()
        last_error = gw.describe_failure(
            f"exited before GET {url}/health/liveliness returned 200" if exited
            else f"GET {url}/health/liveliness did not return 200 within {STARTUP_TIMEOUT:.0f}s")
        gw.stop()
        if not exited:
            break
    raise RuntimeError(last_error)


@dataclass(frozen=True)
class Target:
    """Where the clients are pointed."""

    kind: str  # "gateway" or "mock"
    root_url: str  # http://127.0.0.1:PORT
    api_key: str

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def model(self, group: str) -> str:
        # The gateway routes by model group name; the mock ignores the model name.
        return group


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def mock_url(server_logs):
    mock, url = start_mock(server_logs)
    yield url
    mock.stop()


@pytest.fixture(scope="session")
def gateway_url(server_logs, mock_url):
    gw, url = start_gateway(server_logs, mock_url)
    yield url
    gw.stop()


@pytest.fixture(scope="session")
def target(request, mock_url) -> Target:
    if TARGET_KIND == "mock":
        return Target("mock", mock_url, MOCK_UPSTREAM_KEY)
    return Target("gateway", request.getfixturevalue("gateway_url"), MASTER_KEY)


@pytest.fixture(params=GROUPS)
def group(request) -> str:
    """Model group the client asks for: ``passthrough`` (native Responses upstream),
    ``bridged`` (Chat Completions upstream behind the Responses->chat bridge), or a native
    provider group named after its provider (``azure*``, ``bedrock``, ``anthropic``,
    ``gemini``, ``vertex-gemini``)."""
    return request.param


@pytest.fixture(autouse=True)
def _servers_stay_up():
    yield
    for server in SERVERS.values():
        if not server.stopped and not server.alive():
            pytest.fail(server.describe_failure("died during this test"), pytrace=False)


def pytest_collection_modifyitems(config, items):
    """CONFORMANCE_TARGET=mock: keep only passthrough-group tests that don't need the gateway."""
    if TARGET_KIND != "mock":
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        group_param = callspec.params.get("group") if callspec else None
        needs_gateway = item.get_closest_marker("gateway_only") or group_param not in (None, "passthrough")
        (drop if needs_gateway else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------- client subprocesses


def client_env(**extra: str) -> dict[str, str]:
    """Environment for a client subprocess: the caller's, minus OpenAI/Codex credentials,
    with outbound HTTP(S) (anything not on loopback) sent to a dead proxy so a stray
    telemetry/update call fails fast instead of hanging or leaving the machine."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    dead_proxy = "http://127.0.0.1:9"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[var] = dead_proxy
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


@dataclass
class ClientRun:
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool

    def report(self) -> str:
        status = "TIMED OUT" if self.timed_out else f"exit code {self.returncode}"
        return (f"$ {' '.join(self.argv)}\n[{status}]\n--- stdout ---\n{self.stdout or '<empty>'}\n"
                f"--- stderr ---\n{self.stderr or '<empty>'}")


def run_client(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> ClientRun:
    """Run a client CLI with stdin closed; on timeout kill its whole process group."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:  # e.g. KeyboardInterrupt / pytest-timeout
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return ClientRun(argv, proc.returncode, out.decode("utf-8", "replace"),
                     err.decode("utf-8", "replace"), timed_out)


# --------------------------------------------------------------------------- reporting


_LOG_OFFSETS = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_LOG_OFFSETS] = {name: s.log_size() for name, s in SERVERS.items()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for name, server in SERVERS.items():
            text = server.log_tail(offsets.get(name, 0)) if server.log_path.exists() else ""
            report.sections.append((f"{name} log during this test ({server.log_path})", text or "<empty>"))
    return report


def pytest_report_header(config):
    if TARGET_KIND == "mock":
        return ["conformance target: mock /v1 (CONFORMANCE_TARGET=mock: passthrough group only, "
                "gateway-only tests deselected)"]
    return ["conformance target: gateway (set CONFORMANCE_TARGET=mock to aim clients at the mock)"]


def pytest_configure(config):
    # Turn SIGTERM (e.g. a CI job timeout) into KeyboardInterrupt so fixtures still stop the servers.
    def _interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _interrupt)
