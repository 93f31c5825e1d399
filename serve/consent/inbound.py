"""What an inbound message means for consent (RULES.md 3), and the replies it gets.

Pure: the service stores the interpretation and acts on it (revoking, restoring,
opening a reply window). Order matters: an exact keyword first, then a revocation in
other words, then a keyword buried in other text (flagged for a person), else an
ordinary message that opens the reply window.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from serve.consent.policy import Policy
from serve.consent.records import InboundAction, SenderProfile
from serve.consent.textnorm import keyword_key, spaced, words


@dataclass(frozen=True, slots=True)
class InboundInterpretation:
    action: InboundAction
    needs_review: bool
    keyword: str | None  # the keyword as the policy spells it, or the phrase matched
    reason_code: str
    message: str  # a sentence a reviewer can read
    source: str


def interpret_inbound(text: str, policy: Policy) -> InboundInterpretation:
    """Read one inbound message as an opt-out, opt-in, help request or conversation."""
    if not text.strip():
        return _result(policy, "none", "EMPTY_MESSAGE", None)
    key = keyword_key(text)
    exact = policy.keywords.get(key) if key else None
    if exact is not None:
        action, keyword = exact
        code = {"opted_out": "OPT_OUT_KEYWORD", "opted_in": "OPT_IN_KEYWORD"}.get(action, "HELP_KEYWORD")
        return _result(policy, _action(action), code, keyword)
    tokens = words(text)
    if tokens and all(token in policy.opt_out_keys for token in tokens):
        # "STOP STOP", "stop, cancel": nothing but opt-out keywords is a clear opt-out.
        return _result(policy, "opted_out", "OPT_OUT_KEYWORD", policy.keywords[tokens[0]][1])
    phrase = spaced(text)
    for _, pattern in policy.revocation_patterns:
        match = pattern.search(phrase)
        if match is not None:
            return _result(policy, "opted_out", "REVOKED_BY_REASONABLE_MEANS", match.group(0))
    buried = _buried_keyword(tokens, policy)
    if buried is not None:
        return _result(policy, "conversation_opened", "KEYWORD_IN_TEXT", buried, needs_review=True)
    return _result(policy, "conversation_opened", "CONVERSATION", None)


def help_reply(profile: SenderProfile) -> str:
    """The answer to HELP: who is writing, how to reach them, how to stop, and the cost."""
    name = _name(profile)
    contact = profile.help_text.strip() or f"For help, contact {name}."
    return f"{name}: {contact} Reply STOP to opt out. Msg & data rates may apply."


def opt_out_confirmation(profile: SenderProfile) -> str:
    """The single confirmation an opt-out may get: no marketing, how to come back."""
    name = _name(profile)
    return (
        f"{name}: You are unsubscribed and will receive no more messages from us. Reply START to resubscribe."
    )


def _name(profile: SenderProfile) -> str:
    return profile.display_name.strip() or profile.sender


def _buried_keyword(tokens: list[str], policy: Policy) -> str | None:
    # Adjacent pairs catch the two-word forms ("opt out", "stop all") inside a sentence.
    candidates = [*tokens, *(a + b for a, b in pairwise(tokens))]
    for token in candidates:
        if token in policy.opt_out_keys:
            return policy.keywords[token][1]
    return None


def _action(action: str) -> InboundAction:
    if action == "opted_out":
        return "opted_out"
    if action == "opted_in":
        return "opted_in"
    return "help"


def _result(
    policy: Policy,
    action: InboundAction,
    code: str,
    keyword: str | None,
    *,
    needs_review: bool = False,
) -> InboundInterpretation:
    reason = policy.inbound_reasons[code]
    message = reason.message.format(keyword=keyword if keyword is not None else "")
    return InboundInterpretation(action, needs_review, keyword, code, message, reason.source)
