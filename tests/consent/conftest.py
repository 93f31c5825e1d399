"""The shipped policy, loaded once for the consent tests."""

from __future__ import annotations

import pytest

from serve.consent.policy import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()
