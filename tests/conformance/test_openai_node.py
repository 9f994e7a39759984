"""openai-node v7 against the gateway, one subprocess per scenario: node/responses.mjs (create
and stream), node/state.mjs (stored responses, chains, conversations; gateway only),
node/long_running.mjs (background poll and cancel, compaction; gateway only)."""

from __future__ import annotations

import pytest

from conftest import HERE, NODE_MODULES, client_env, run_client

SCRIPT = HERE / "node" / "responses.mjs"
STATE_SCRIPT = HERE / "node" / "state.mjs"
LONG_RUNNING_SCRIPT = HERE / "node" / "long_running.mjs"
# A pass-through and a translated group.
LONG_RUNNING_GROUPS = ("passthrough", "anthropic")


@pytest.fixture(scope="session")
def node() -> str:
    # openai@7 declares engines.node >=22: run it on the Node 22 pinned in package.json (the
    # `node` package from the npm registry), not on whatever the machine has.
    pinned = NODE_MODULES / ".bin" / "node"
    path = str(pinned) if pinned.exists() else None
    if not path or not (NODE_MODULES / "openai").is_dir():
        pytest.fail("node_modules/.bin/node or node_modules/openai missing: run "
                    "tests/conformance/setup.sh", pytrace=False)
    return path


@pytest.mark.parametrize("scenario", ["stream-text", "create-text", "function-call"])
def test_openai_node(node, target, group, scenario, tmp_path):
    env = client_env(SWITCHYARD_BASE_URL=target.base_url, SWITCHYARD_API_KEY=target.api_key,
                     SWITCHYARD_MODEL=target.model(group))
    run = run_client([node, str(SCRIPT), scenario], env=env, cwd=HERE, timeout=60)
    assert run.returncode == 0 and not run.timed_out, run.report()
    assert run.stdout.startswith(f"ok: {scenario}"), run.report()


@pytest.mark.gateway_only
@pytest.mark.parametrize("scenario", ["retrieve", "input-items", "delete", "chain", "conversations"])
def test_openai_node_state(node, target, group, scenario):
    env = client_env(SWITCHYARD_BASE_URL=target.base_url, SWITCHYARD_API_KEY=target.api_key,
                     SWITCHYARD_MODEL=target.model(group))
    run = run_client([node, str(STATE_SCRIPT), scenario], env=env, cwd=HERE, timeout=60)
    assert run.returncode == 0 and not run.timed_out, run.report()
    assert run.stdout.startswith(f"ok: {scenario}"), run.report()


@pytest.mark.gateway_only
@pytest.mark.parametrize("long_group", LONG_RUNNING_GROUPS)
@pytest.mark.parametrize("scenario", ["background-poll", "background-cancel", "compact"])
def test_openai_node_long_running(node, target, long_group, scenario):
    env = client_env(SWITCHYARD_BASE_URL=target.base_url, SWITCHYARD_API_KEY=target.api_key,
                     SWITCHYARD_MODEL=target.model(long_group))
    run = run_client([node, str(LONG_RUNNING_SCRIPT), scenario], env=env, cwd=HERE, timeout=60)
    assert run.returncode == 0 and not run.timed_out, run.report()
    assert run.stdout.startswith(f"ok: {scenario}"), run.report()
