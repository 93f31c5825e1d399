"""Loading the policy file: validation errors name the file and field; effective dates hold."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from serve.consent.engine import decide
from serve.consent.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy, parse_policy
from tests.consent.scenarios import by_name

SHIPPED = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
FLORIDA_WINDOW = 'rule = "QUIET_HOURS_US_FL"\nstart = "08:00"'


def edited(old: str, new: str) -> str:
    """The shipped policy text with one exact edit (the edit must apply)."""
    assert SHIPPED.count(old) == 1, old
    return SHIPPED.replace(old, new)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_loads_with_its_version(policy: Policy) -> None:
    """The policy in the repository validates and carries a version."""
    assert policy.version == "2026.11.1"
    assert policy.default.key == "DEFAULT"


def test_bad_time_names_file_and_field(tmp_path: Path) -> None:
    """An impossible hour is reported as file: jurisdictions.US-FL.quiet_hours.start."""
    path = write(tmp_path, edited(FLORIDA_WINDOW, 'rule = "QUIET_HOURS_US_FL"\nstart = "25:00"'))
    with pytest.raises(PolicyError, match=r"policy\.toml: jurisdictions\.US-FL\.quiet_hours\.start: "):
        load_policy(path)


def test_window_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    """A window must end after it starts."""
    path = write(tmp_path, edited(FLORIDA_WINDOW, 'rule = "QUIET_HOURS_US_FL"\nstart = "21:00"'))
    with pytest.raises(PolicyError, match=r"jurisdictions\.US-FL\.quiet_hours: .*end 20:00 must be after"):
        load_policy(path)


def test_unknown_effect_names_the_rule(tmp_path: Path) -> None:
    """A rule effect other than block, review or none names rules.<id>.effect."""
    text = edited('code = "OPTED_OUT"\neffect = "block"', 'code = "OPTED_OUT"\neffect = "warn"')
    with pytest.raises(PolicyError, match=r"policy\.toml: rules\.OPTED_OUT\.effect: "):
        load_policy(write(tmp_path, text))


def test_reference_to_an_unknown_rule_names_the_field(tmp_path: Path) -> None:
    """A window pointing at a rule id that does not exist is refused."""
    text = edited(FLORIDA_WINDOW, 'rule = "QUIET_HOURS_XX"\nstart = "08:00"')
    with pytest.raises(PolicyError, match=r"jurisdictions\.US-FL\.quiet_hours\.rule: unknown rule"):
        load_policy(write(tmp_path, text))


def test_missing_engine_rule_is_refused(tmp_path: Path) -> None:
    """The engine's own rules (here OPTED_OUT) must be in the file."""
    text = edited("[rules.OPTED_OUT]\ncode", "[rules.OPTED_OUT_OLD]\ncode")
    with pytest.raises(PolicyError, match=r"rules\.OPTED_OUT: missing"):
        load_policy(write(tmp_path, text))


def test_unknown_message_placeholder_names_the_template(tmp_path: Path) -> None:
    """A message may only use the placeholders the engine fills."""
    text = edited(
        'message = "The recipient opted out of {sender}: {detail}."',
        'message = "The recipient {phone} opted out: {detail}."',
    )
    with pytest.raises(PolicyError, match=r"rules\.OPTED_OUT\.message: unknown placeholder \{phone\}"):
        load_policy(write(tmp_path, text))


def test_bad_regular_expression_names_its_index(tmp_path: Path) -> None:
    """A pattern that does not compile is reported with its list position."""
    text = edited("opt_out_patterns = [\n", "opt_out_patterns = [\n  '(unclosed',\n")
    with pytest.raises(PolicyError, match=r"content\.opt_out_patterns\.0: bad regular expression"):
        load_policy(write(tmp_path, text))


def test_country_in_two_jurisdictions_is_refused(tmp_path: Path) -> None:
    """A country may belong to one entry only."""
    text = edited('countries = ["IN"]', 'countries = ["IN", "FR"]')
    with pytest.raises(PolicyError, match=r"jurisdictions\.IN\.countries\.1: FR is already covered by EU"):
        load_policy(write(tmp_path, text))


def test_keyword_in_two_lists_is_refused(tmp_path: Path) -> None:
    """A word cannot be both an opt-out and an opt-in keyword."""
    text = edited('opt_in = ["START", "UNSTOP", "YES"]', 'opt_in = ["START", "UNSTOP", "YES", "Stop"]')
    with pytest.raises(PolicyError, match=r"keywords\.opt_in\.3: 'Stop' is also a keyword for opted_out"):
        load_policy(write(tmp_path, text))


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    """A misspelt field is an error, not silently ignored."""
    text = edited("conversation_window_hours = 24", "conversation_window_hours = 24\nconversaton_window = 1")
    with pytest.raises(PolicyError, match=r"settings\.conversaton_window: Extra inputs"):
        load_policy(write(tmp_path, text))


def test_default_jurisdiction_is_required(tmp_path: Path) -> None:
    """Without a DEFAULT entry unknown countries would have no rules."""
    text = edited("[jurisdictions.DEFAULT]\n", "[jurisdictions.ELSEWHERE]\n").replace(
        "[jurisdictions.DEFAULT.", "[jurisdictions.ELSEWHERE."
    )
    with pytest.raises(PolicyError, match=r"jurisdictions\.DEFAULT: missing"):
        load_policy(write(tmp_path, text))


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A file that is not TOML at all is reported with its name."""
    with pytest.raises(PolicyError, match=r"policy\.toml: not valid TOML"):
        load_policy(write(tmp_path, "version = \n"))


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """A path with no file is reported with that path."""
    with pytest.raises(PolicyError, match=r"nowhere\.toml: cannot read"):
        load_policy(tmp_path / "nowhere.toml")


def test_rule_with_a_future_effective_date_is_not_applied(tmp_path: Path) -> None:
    """Florida's 8 pm limit, dated 2030 in this copy, does not hold a 20:30 send in 2026."""
    text = edited(
        'source = "Fla. Stat. §501.616(6)"\neffective_from = 2021-07-01\n\n[rules.QUIET_HOURS_US_OK]',
        'source = "Fla. Stat. §501.616(6)"\neffective_from = 2030-01-01\n\n[rules.QUIET_HOURS_US_OK]',
    )
    future = parse_policy(text)
    scenario = by_name("florida-8pm-is-too-late")
    args = (scenario.classification, scenario.request, scenario.snapshot)
    decision = decide(*args, future, scenario.now)
    florida = [e for e in decision.trace if e.detail.startswith("QUIET_HOURS_US_FL")]
    assert decision.decision == "allow"
    assert [(e.code, e.applies, e.detail) for e in florida] == [
        ("QUIET_HOURS", False, "QUIET_HOURS_US_FL: not in force until 2030-01-01")
    ]


def test_same_rule_in_force_blocks_with_the_shipped_date(policy: Policy) -> None:
    """The control for the test above: with its real date the Florida window blocks."""
    scenario = by_name("florida-8pm-is-too-late")
    decision = decide(scenario.classification, scenario.request, scenario.snapshot, policy, scenario.now)
    assert (decision.decision, [r.source for r in decision.reasons]) == ("block", ["Fla. Stat. §501.616(6)"])


def test_rule_applies_from_midnight_utc_of_its_effective_date(policy: Policy) -> None:
    """Texas' Sunday window (SB 140, 2025-09-01) holds on its first day, not the day before."""
    rule = policy.rule("QUIET_HOURS_US_TX")
    assert not rule.in_force(datetime(2025, 8, 31, 23, 59, tzinfo=UTC))
    assert rule.in_force(datetime(2025, 9, 1, 0, 0, tzinfo=UTC))
