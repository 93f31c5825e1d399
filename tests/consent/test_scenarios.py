"""Replays the scenario table (scenarios.py) through the engine."""

from __future__ import annotations

import pytest

from serve.consent.engine import decide
from serve.consent.policy import PASS_CODES, Policy
from tests.consent.scenarios import SCENARIOS, Scenario


def _codes(scenario: Scenario, policy: Policy) -> list[str]:
    decision = decide(scenario.classification, scenario.request, scenario.snapshot, policy, scenario.now)
    return [reason.code for reason in decision.reasons]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_reaches_its_decision(scenario: Scenario, policy: Policy) -> None:
    """Each row gets its expected outcome, reason codes and not_before."""
    decision = decide(scenario.classification, scenario.request, scenario.snapshot, policy, scenario.now)
    codes = [reason.code for reason in decision.reasons]
    assert decision.decision == scenario.expected_decision, codes
    assert set(scenario.expected_codes_present) <= set(codes), codes
    assert not set(scenario.expected_codes_absent) & set(codes), codes
    assert decision.not_before == scenario.expected_not_before


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_exercises_its_rule_on_its_side(scenario: Scenario, policy: Policy) -> None:
    """The trace shows the row's rule failing (or holding) as the row's side says."""
    decision = decide(scenario.classification, scenario.request, scenario.snapshot, policy, scenario.now)
    failed = {entry.code for entry in decision.trace if entry.applies and not entry.passed}
    if scenario.side == "fails":
        assert scenario.code in failed
    else:
        assert scenario.code not in failed


def test_every_rule_code_has_a_failing_scenario(policy: Policy) -> None:
    """The table shows each code of the policy failing at least once."""
    failing = {s.code for s in SCENARIOS if s.side == "fails"}
    assert sorted(policy.rule_codes - failing) == []


def test_every_rule_code_has_a_passing_scenario(policy: Policy) -> None:
    """The table shows each code of the policy holding at least once."""
    passing = {s.code for s in SCENARIOS if s.side == "passes"}
    assert sorted(policy.rule_codes - passing) == []


def test_every_pass_code_is_given_by_some_allow(policy: Policy) -> None:
    """Each reason an allow can give appears in at least one allowed scenario."""
    given = {code for s in SCENARIOS if s.expected_decision == "allow" for code in _codes(s, policy)}
    assert sorted(set(PASS_CODES) - given) == []


def test_scenario_names_are_unique() -> None:
    """Names are the test ids, so two rows may not share one."""
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))


def test_scenarios_keep_every_input_in_the_records() -> None:
    """Each row's snapshot is for the request's sender and number, so a store can replay it."""
    for s in SCENARIOS:
        assert (s.snapshot.sender.sender, s.snapshot.phone) == (s.request.sender, s.request.to), s.name
