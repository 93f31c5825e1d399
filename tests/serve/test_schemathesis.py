"""Property-based API tests generated from our own OpenAPI schema (schemathesis).

Bounded: a fixed number of examples per operation, no deadline. The checks are that no
request, valid or not, gets a 5xx (an unexpected error surfaces as 503 here, so it fails
the check), and that 2xx bodies match the documented response schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from model.settings import Settings
from serve.app import create_app
from tests.serve.conftest import ADMIN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, model_dir) -> Iterator[schemathesis.BaseSchema]:  # type: ignore[no-untyped-def]
    settings_ = Settings(
        state_dir=tmp_path_factory.mktemp("schemathesis"),
        api_keys="sender:sender-key-1,reviewer:reviewer-key-1,admin:admin-key-1",
        model_path=model_dir,
    )
    app = create_app(settings_)
    with TestClient(app):  # runs the lifespan: model loaded, database migrated
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_and_documented_bodies(api_schema: schemathesis.BaseSchema) -> None:
    """Whatever is sent to any operation, no 5xx, and 2xx bodies match the schema."""
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not support
    # this pytest version. Each operation gets its own bounded run.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:
        if operation.path == "/v1/admin/reload-model":
            continue  # reloading in a loop re-tests one code path for a lot of time

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=ADMIN, checks=[not_a_server_error, response_schema_conformance])

        run()
