"""openai-node v7 (node/responses.mjs) against the gateway, one subprocess per scenario."""

from __future__ import annotations

import pytest

from conftest import HERE, NODE_MODULES, client_env, run_client

SCRIPT = HERE / "node" / "responses.mjs"


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
