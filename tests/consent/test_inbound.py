"""Reading inbound messages (RULES.md 3) and the replies they get."""

from __future__ import annotations

import tomllib

import pytest

from serve.consent.inbound import help_reply, interpret_inbound, opt_out_confirmation
from serve.consent.policy import DEFAULT_POLICY_PATH, Policy
from serve.consent.records import SenderProfile
from tests.consent.scenarios import ACME

# Exactly the lists of RULES.md section 3.
RULES_OPT_OUT = (
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT",
    "OPT-OUT", "REMOVE", "ARRET", "ARRÊT", "TD", "ALTO", "PARAR", "DETENER", "SALIR", "BAJA",
    "CANCELAR",
)  # fmt: skip
RULES_OPT_IN = ("START", "UNSTOP", "YES")
RULES_HELP = ("HELP", "INFO", "AIDE", "AYUDA")


def test_policy_keyword_lists_are_exactly_those_of_the_rules() -> None:
    """The policy file carries RULES.md's keyword lists, no more and no fewer."""
    keywords = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))["keywords"]
    assert tuple(keywords["opt_out"]) == RULES_OPT_OUT
    assert tuple(keywords["opt_in"]) == RULES_OPT_IN
    assert tuple(keywords["help"]) == RULES_HELP


@pytest.mark.parametrize("keyword", RULES_OPT_OUT)
def test_each_opt_out_keyword_opts_out(keyword: str, policy: Policy) -> None:
    """Every listed opt-out keyword, sent alone, is an opt-out."""
    result = interpret_inbound(keyword, policy)
    assert (result.action, result.reason_code, result.needs_review) == ("opted_out", "OPT_OUT_KEYWORD", False)


@pytest.mark.parametrize(
    "text",
    ["Stop.", " STOP ", "stop", "StOp!!!", "arrêt", "Arret", "Opt-Out", "opt out", "¡Alto!", "STOP STOP"],
)
def test_opt_out_keywords_ignore_case_accents_space_and_punctuation(text: str, policy: Policy) -> None:
    """A keyword typed with any case, accent, spacing or punctuation still opts out."""
    result = interpret_inbound(text, policy)
    assert (result.action, result.reason_code) == ("opted_out", "OPT_OUT_KEYWORD")


@pytest.mark.parametrize("keyword", [*RULES_OPT_IN, "start.", "Yes!"])
def test_opt_in_keywords_opt_in(keyword: str, policy: Policy) -> None:
    """START, UNSTOP and YES, sent alone, opt back in."""
    result = interpret_inbound(keyword, policy)
    assert (result.action, result.reason_code) == ("opted_in", "OPT_IN_KEYWORD")


@pytest.mark.parametrize("keyword", [*RULES_HELP, "help?", "Ayuda."])
def test_help_keywords_ask_for_help(keyword: str, policy: Policy) -> None:
    """HELP, INFO, AIDE and AYUDA, sent alone, ask for the help text."""
    result = interpret_inbound(keyword, policy)
    assert (result.action, result.reason_code) == ("help", "HELP_KEYWORD")


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "Stop messaging me!!",
        "take me off your list",
        "Remove me from this list please",
        "unsubscribe me",
        "Wrong number",
        "no more texts",
        "Don't text me again",
        "I want to opt out",
        "please stop",
        "dejen de enviarme mensajes",
        "No me manden más mensajes",
        "Número equivocado",
        "quiero darme de baja",
        "ne m'envoyez plus de messages",
        "Arrêtez de m'envoyer des SMS",
        "Désabonnez-moi",
        "mauvais numéro",
    ],
)
def test_revocation_in_other_words_opts_out(text: str, policy: Policy) -> None:
    """Clear revocation in English, Spanish or French revokes at once."""
    result = interpret_inbound(text, policy)
    assert (result.action, result.reason_code, result.needs_review) == (
        "opted_out",
        "REVOKED_BY_REASONABLE_MEANS",
        False,
    )


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("Count me in! STOP this bill", "STOP"),
        ("don't stop the deals", "STOP"),
        ("Can I cancel my appointment?", "CANCEL"),
        ("how do I opt out of paper bills", "OPTOUT"),
    ],
)
def test_keyword_inside_other_text_opens_a_conversation_for_review(
    text: str, keyword: str, policy: Policy
) -> None:
    """A keyword buried in a sentence is neither ignored nor taken as an opt-out."""
    result = interpret_inbound(text, policy)
    assert (result.action, result.reason_code, result.needs_review, result.keyword) == (
        "conversation_opened",
        "KEYWORD_IN_TEXT",
        True,
        keyword,
    )


@pytest.mark.parametrize(
    "text", ["What time do you open?", "Yes please, 3pm works", "👍", "Stopover in Denver?"]
)
def test_ordinary_message_opens_a_conversation(text: str, policy: Policy) -> None:
    """Anything else opens the reply window and needs no review."""
    result = interpret_inbound(text, policy)
    assert (result.action, result.reason_code, result.needs_review) == (
        "conversation_opened",
        "CONVERSATION",
        False,
    )


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_message_does_nothing(text: str, policy: Policy) -> None:
    """An empty inbound message has no action."""
    result = interpret_inbound(text, policy)
    assert (result.action, result.reason_code) == ("none", "EMPTY_MESSAGE")


def test_interpretation_carries_a_readable_message_and_source(policy: Policy) -> None:
    """Each reading says, in a sentence, why, with its legal source."""
    result = interpret_inbound("take me off your list", policy)
    assert "take me off" in result.message
    assert "64.1200(a)(10)" in result.source


def test_help_reply_names_sender_contact_opt_out_and_rates() -> None:
    """The help text gives the name, the contact, how to opt out and the rates notice."""
    reply = help_reply(ACME)
    assert reply.startswith("Acme:")
    assert "help@acme.example" in reply
    assert "Reply STOP to opt out" in reply
    assert "Msg & data rates may apply" in reply


def test_help_reply_without_help_text_still_names_a_contact() -> None:
    """A sender with no help text configured still gets a usable reply."""
    reply = help_reply(SenderProfile("acme", "Acme"))
    assert "contact Acme" in reply and "Msg & data rates may apply" in reply


def test_opt_out_confirmation_names_sender_and_the_way_back() -> None:
    """The confirmation names the sender, confirms, says how to return, and fits one SMS."""
    text = opt_out_confirmation(ACME)
    assert text.startswith("Acme:")
    assert "unsubscribed" in text and "START" in text
    assert len(text) <= 160
