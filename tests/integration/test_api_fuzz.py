"""Fuzz every operation of the API from its own OpenAPI schema (schemathesis): whatever a
client sends, the answer is never a 5xx. Requests carry an admin's token, so they get past
authentication into the services."""

from __future__ import annotations

import hypothesis
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from eventrouter.router.api.app import create_app
from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import ChannelIn
from eventrouter.router.models.people import TokenIn, UserIn
from eventrouter.router.settings import Settings

EXAMPLES_PER_OPERATION = 8


def test_no_input_gives_a_server_error(settings: Settings, clean_db: Engine) -> None:
    control = Control(clean_db, settings, Caller(org="default"))
    control.users.add(UserIn(email="fuzz@example.com", role="admin"))
    control.channels.add(ChannelIn(name="payments", pattern="payment:.*"))
    headers = {
        "Authorization": f"Bearer {control.tokens.create(TokenIn(user='fuzz@example.com')).token}"
    }
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, engine=clean_db))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
