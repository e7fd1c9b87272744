"""Generated requests against every API operation: bad input never causes a server error.

Schemathesis reads our OpenAPI and sends schema-conforming and malformed requests (real HTTP,
signed in with a bearer token); every answer must be below 500 and, when an error, JSON with
``detail`` and ``code``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from salon.config import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.web.test_live_server import serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeOpenAIServer
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("fuzz")
    conf = Settings(env="test", data_dir=Path(data), llm_provider="openai",
                    llm_base_url=f"{fake_llm.url}/v1", llm_model="fake-model")
    with serve(conf) as base:
        yield base


@pytest.fixture(scope="module")
def api_schema(fuzz_server: str) -> tuple[schemathesis.BaseSchema, dict[str, str]]:
    r = httpx.post(f"{fuzz_server}/api/v1/auths/signup",
                   json={"name": "Fuzz", "email": "fuzz@example.com", "password": "long enough pw"})
    session = {"Authorization": f"Bearer {r.json()['token']}"}
    # An API token: fuzzing the sign-out route must not end the run's credentials.
    token = httpx.post(f"{fuzz_server}/api/v1/auths/api_keys", json={"name": "fuzz"},
                       headers=session).json()["token"]
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    return schema, {"Authorization": f"Bearer {token}"}


def test_no_server_errors(api_schema: tuple[schemathesis.BaseSchema, dict[str, str]]) -> None:
    schema, auth = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    statuses: list[int] = []
    for operation in operations:
        check_operation(operation, auth, statuses)
    # the token was used: authenticated requests got through, not only 401s
    assert sum(200 <= s < 300 for s in statuses) > 20, sorted(set(statuses))


def check_operation(
    operation: schemathesis.APIOperation, auth: dict[str, str], statuses: list[int]
) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=auth, timeout=30)
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])
        if response.status_code >= 400 and response.status_code != 405:
            body = response.json()
            assert "detail" in body and "code" in body, (case.method, case.path, body)

    run()
