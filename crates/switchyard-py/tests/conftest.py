"""Fixtures: the mock upstream (``switchyard-mock``) and per-provider call settings pointing at
it, and a "hanging" upstream that never answers and records when its client hangs up.

The mock binary is ``$SWITCHYARD_MOCK_BIN`` (run.sh sets it); these tests never build it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

from helpers import HangingUpstream

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]

# Test-only credentials (not secrets): the mock accepts any key of the right shape.
OPENAI_KEY = "sk-mock-openai-000000000000"
ANTHROPIC_KEY = "sk-ant-api03-mock-0000000000"
GEMINI_KEY = "AIzaSyMockGeminiKey00000000000000000000"
AZURE_KEY = "k-azure-000000000"
AWS = {
    "aws_region_name": "us-east-1",
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
# The service-account key the mock's token endpoint trusts (a committed test fixture).
SERVICE_ACCOUNT_KEY = REPO_ROOT / "crates" / "switchyard-mock" / "testdata" / "vertex-test-key.pem"


class Mock:
    """The running mock upstream."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path


@pytest.fixture(scope="session")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Any:
    binary = os.environ.get("SWITCHYARD_MOCK_BIN") or str(REPO_ROOT / "target" / "debug" / "switchyard-mock")
    if not os.access(binary, os.X_OK):
        pytest.exit(f"mock binary not found: {binary} (build it: cargo build -p switchyard-mock)", returncode=2)
    log_path = tmp_path_factory.mktemp("mock") / "switchyard-mock.log"
    log = open(log_path, "wb")
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    env["RUST_LOG"] = "warn"
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    found = re.search(r"listening on (http://\S+)", line)
    if not found:
        process.kill()
        raise RuntimeError(f"the mock did not start: {line!r}; log in {log_path}")
    yield Mock(found.group(1), process, log_path)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def service_account(mock: Mock, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Vertex AI service-account file whose token endpoint is the mock's."""
    path = tmp_path_factory.mktemp("vertex") / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "mock-project",
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": SERVICE_ACCOUNT_KEY.read_text(),
                "client_email": "switchyard-test@mock-project.iam.gserviceaccount.com",
                "client_id": "100000000000000000001",
                "token_uri": f"{mock.url}/token",
            }
        )
    )
    return str(path)


@pytest.fixture(scope="session")
def providers(mock: Mock, service_account: str) -> Dict[str, Dict[str, Any]]:
    """Keywords for `switchyard.responses` per provider, every one served by the mock."""
    m = mock.url
    vertex = {
        "api_base": m,
        "vertex_project": "mock-project",
        "vertex_location": "us-central1",
        "vertex_credentials": service_account,
    }
    return {
        "openai": {"model": "openai/gpt-mock", "api_base": f"{m}/v1", "api_key": OPENAI_KEY},
        "anthropic": {"model": "anthropic/claude-sonnet-4-5", "api_base": f"{m}/anthropic", "api_key": ANTHROPIC_KEY},
        "gemini": {"model": "gemini/gemini-2.5-flash", "api_base": m, "api_key": GEMINI_KEY},
        "bedrock": {
            "model": "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
            "aws_bedrock_runtime_endpoint": m,
            **AWS,
        },
        "vertex_ai": {"model": "vertex_ai/gemini-3-flash-preview", **vertex},
        "vertex_ai_claude": {"model": "vertex_ai/claude-sonnet-4-5@20250929", **dict(vertex, vertex_location="us-east5")},
        "azure": {
            "model": "azure/gpt-5-mini-prod",
            "api_base": m,
            "api_key": AZURE_KEY,
            "api_version": "2025-04-01-preview",
        },
        "hosted_vllm": {"model": "hosted_vllm/mock-llama", "api_base": f"{m}/vllm/v1"},
    }


@pytest.fixture
def openai_call(providers: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Keywords for the mock's OpenAI Responses API."""
    return dict(providers["openai"])


@pytest.fixture
def hanging() -> Any:
    """An upstream that never answers."""
    server = HangingUpstream()
    yield server
    server.close()


@pytest.fixture
def stalling() -> Any:
    """An upstream that starts a stream and then goes silent."""
    server = HangingUpstream(streaming=True)
    yield server
    server.close()
