"""Shared fixtures. `pulumi_mocks`: Pulumi's in-process mocks that record every resource.

    def test_pool(pulumi_mocks):
        GkeTpuCluster("c", args)
        res = pulumi_mocks.settle()
        pool = res.one("gcp:container/nodePool:NodePool", "c-v4")

Project "gke-tpu-serving", stack "test", preview mode. Before constructing: `pulumi_mocks.config({...})`
sets config (bare keys belong to the project; `gcp:project` is preset to "test-project"),
`pulumi_mocks.invokes[token] = handler` answers an invoke, `pulumi_mocks.computed[type] = fn` adds
provider-computed outputs. `settle()` raises `UnmockedInvokeError` for any invoke no handler answers;
`resolve(output)` gives an Output's plain value.
"""

from collections.abc import Iterator

import pytest

from gke_tpu_serving.offline import MockSession


@pytest.fixture
def pulumi_mocks() -> Iterator[MockSession]:
    session = MockSession("gke-tpu-serving", "test", config={"gcp:project": "test-project"})
    try:
        yield session
    finally:
        session.close()
