"""SMS-aware text normalisation: pure functions, no I/O.

Two jobs share one set of patterns so that training and serving see the same text:

* ``scrub_pii`` replaces personal data (names after a greeting, phone numbers, e-mail and
  UPI addresses, masked account numbers, long reference numbers) with placeholders such as
  ``<PHONE>``, keeping everything else as written. Training data is scrubbed before
  anything is built from it or logged.
* ``normalize`` is the model's view of a message: Unicode folded (NFKC, zero-width
  characters dropped, look-alike letters and spam spellings such as "FR€E" or "D1SC0UNT"
  folded back), then links, amounts, dates, codes and numbers turned into tokens such as
  ``<url>`` and ``<amount>``, then lower-cased. It is idempotent.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import Final

# Tokens the model sees, in angle brackets so the vectoriser keeps them whole.
PLACEHOLDERS: Final = (
    "url",
    "email",
    "vpa",
    "name",
    "amount",
    "pct",
    "date",
    "time",
    "acct",
    "phone",
    "ref",
    "code",
    "year",
    "num",
)
TOKEN_PATTERN: Final = r"<[a-z]+>|\b\w+\b"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)

# Cyrillic and Greek letters that render like Latin ones; spammers mix them into words.
_HOMOGLYPHS: Final = str.maketrans(
    "АВСЕНІЈКМОРЅТХУаеіјорсѕухԁһӏΑΒΕΗΙΚΜΝΟΡΤΥΧΖονρτ",
    "ABCEHIJKMOPSTXYaeijopcsyxdhlABEHIKMNOPTYXZovpt",
)
_LATIN = re.compile(r"[A-Za-z]")
_FOLDABLE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")

# Characters spammers put in place of letters. Digits only count inside a word.
_LEET: Final = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "€": "e"}
)
_LEET_CHARS: Final = frozenset("013457@$€")
# Maximal runs of 3+ word-ish characters that hold a character a spammer swaps for a
# letter; runs without one are left alone anyway, so they are not even matched.
_LEET_WORD = re.compile(r"(?<![A-Za-z0-9@$€])(?=[A-Za-z0-9@$€]*[013457@$€])[A-Za-z0-9@$€]{3,}")
_LEET_HINT = re.compile("[013457@$€]")
# Words spammers disguise most; an edge digit ("0FF", "FRE3") is folded only into these.
_SPAM_WORDS: Final = frozenset(
    [
        "off",
        "free",
        "sale",
        "win",
        "won",
        "cash",
        "deal",
        "deals",
        "offer",
        "offers",
        "prize",
        "gift",
        "bonus",
        "save",
        "loan",
        "loans",
        "discount",
        "credit",
        "click",
        "claim",
        "winner",
        "urgent",
    ]
)

_GENERIC_ADDRESSEES: Final = frozenset(
    [
        "customer",
        "customers",
        "user",
        "member",
        "members",
        "sir",
        "madam",
        "maam",
        "ma'am",
        "valued",
        "team",
        "all",
        "there",
        "guest",
        "guests",
        "patient",
        "patients",
        "client",
        "clients",
        "cardholder",
        "friend",
        "friends",
        "subscriber",
        "investor",
        "parent",
        "traveller",
        "traveler",
        "shopper",
        "everyone",
        "folks",
        "again",
        "and",
        "from",
        "sender",
        "shareholder",
        "applicant",
        "policyholder",
        "student",
        "account",
        "amigo",
        "amiga",
        "cliente",
        "clienta",
        "kunde",
        "kundin",
    ]
)
_GREETING = re.compile(
    r"\b(?P<greet>Dear|Hi|Hello|Hey|Hiya|Hola|Bonjour|Hallo|Ciao|Ola|Olá|Namaste|Cher|Chère|"
    r"Estimado|Estimada|Caro|Cara|Liebe|Lieber|Beste)\s+"
    r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Sr|Sra)\.?\s+)?"
    r"(?P<name>[A-Z][A-Za-z'\-]+(?:\s+[A-Z]{2,}[A-Za-z'\-]*)?)"
)
# The greeting words as a branch of literals: unlike _GREETING (which starts with \b), a
# pattern that opens with a literal lets `re` jump between candidate first characters.
_GREETING_HINT = re.compile(
    r"(?:Dear|Hi|Hello|Hey|Hiya|Hola|Bonjour|Hallo|Ciao|Ola|Olá|Namaste|Cher|Chère|"
    r"Estimado|Estimada|Caro|Cara|Liebe|Lieber|Beste)\s"
)
_TITLED_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Dr)\.?\s+[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+)?")

_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|co|in|ly|io|net|org|me|uk|us|biz|info|"
    r"app|page|link|gl|to|nu|bz|ca|au|de|fr|es|it|nl|eu|ie|shop|store|at|be|ch|pt|br|mx)"
    r"(?:/\S*|\b)"
)
# Something every _URL match holds: a cheap scan that lets most texts skip _URL itself.
# Both branches open with a literal (":" or ".") so that `re` prefix-scans for them; the
# case-insensitive parts sit after it ("www." is checked behind its dot).
_URL_HINT = re.compile(
    r"://|\.(?i:(?<=www\.)|com|co|in|ly|io|net|org|me|uk|us|biz|info|app|page|link|gl|to|nu|bz|ca|"
    r"au|de|fr|es|it|nl|eu|ie|shop|store|at|be|ch|pt|br|mx)"
)
_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL_WITH_PII = re.compile(r"@|\d{8,}")
_VPA = re.compile(r"(?i)\b[\w.-]+@[a-z][a-z0-9]+\b")

_CURRENCY_BEFORE = (
    r"(?:\b(?:rs|inr|usd|eur|gbp|cad|aud|mxn|brl|chf|sgd)\.?:?|r\$|us\$|c\$|a\$|au\$|\$|£|€|₹|¥)"
)
_AMOUNT = re.compile(
    rf"{_CURRENCY_BEFORE}\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|lakh|lakhs|lacs?|crore)\b)?(?:/-)?"
    r"|\b\d[\d,]*(?:[.,]\d+)?\s?(?:€|£|₹|\$|eur|euros?|dollars?|usd|gbp|pounds?|rupees?|rs|"
    r"inr|reais|pesos?|cad|aud|mxn)(?![a-z])"
    r"|\b\d+p\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(?i)\b\d+(?:[.,]\d+)?\s?(?:%|percent\b|por ciento\b|pour cent\b|prozent\b)")
_MONTHS = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|"
    r"june|july|august|september|october|november|december)"
)
_DATE = re.compile(
    r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?[-\s]?{_MONTHS}\b\.?(?:[-\s,]+\d{{2,4}}\b)?"
    rf"|\b{_MONTHS}\.?\s\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s\d{{4}}\b)?"
    r"|\b\d{1,2}/\d{1,2}\b",
    re.IGNORECASE,  # as a flag, not "(?i)": _NearDigits embeds the pattern in another
)
_TIME = re.compile(
    r"(?i)\b\d{1,2}[:h]\d{2}(?::\d{2})?(?:\s?(?:am|pm|a\.m\.|p\.m\.|hrs|uhr)\b)?"
    r"|\b\d{1,2}(?:\.\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?![a-z])"
)
_MASKED = re.compile(
    r"(?i)(?<![\w*])[x*•#.]{2,}[-\s]?\d{2,6}\b"
    r"|\b\d{1,6}[x*•]{3,}\d{1,6}\b"
    r"|(?<![\w*])\*\d{3,6}\b"
    r"|\b[x]\d{3,6}\b"
)
_SEPARATED_DIGITS = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{2,5}){1,4}(?![\w.]\d)"
)
_PLUS_NUMBER = re.compile(r"(?<!\w)\+\d{8,15}\b")
_LONG_DIGITS = re.compile(r"\b\d{8,}\b")
_HASH_REF = re.compile(r"#\s?[A-Za-z]{0,4}\d[\w-]*")
_ALNUM_CODE = re.compile(
    r"\b(?=[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CODE = re.compile(r"\b\d{4,7}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CORPUS_NUMBER_MASK = re.compile(r"<#>")
_REPEAT_PUNCT = re.compile(r"([!?.,*\-_=~])\1+")
_REPEAT_LETTER = re.compile(r"([a-z])\1{2,}")
_SPACE = re.compile(r"\s+")
_REPEAT_LETTER_HINT = re.compile(r"([a-z])\1\1")
# What _REPEAT_PUNCT can change, as literal pairs so that `re` prefix-scans for them.
_REPEAT_PUNCT_HINT = re.compile(r"!!|\?\?|\.\.|,,|\*\*|--|__|==|~~")


def fold_unicode(text: str) -> str:
    """Zero-width characters removed, NFKC, look-alike letters folded to Latin."""
    text = unicodedata.normalize("NFKC", text.translate(_ZERO_WIDTH)).translate(_ZERO_WIDTH)
    if _FOLDABLE.search(text) and len(_LATIN.findall(text)) >= len(_FOLDABLE.findall(text)):
        # Only fold when Latin dominates: a genuine Russian or Greek message stays itself.
        text = text.translate(_HOMOGLYPHS)
    return text


def _fold_leet_word(match: re.Match[str]) -> str:
    word = match.group(0)
    chars = [c for c in word if c in _LEET_CHARS]
    if not chars:
        return word
    if word.translate(_LEET).lower() in _SPAM_WORDS:
        return word.translate(_LEET)
    letters = sum(c.isalpha() for c in word)
    if letters < 3 or letters * 2 < len(word) or re.search(r"\d\d", word):
        return word
    for i, c in enumerate(word):
        if c in _LEET_CHARS:
            left = word[i - 1].isalpha() if i > 0 else False
            right = word[i + 1].isalpha() if i + 1 < len(word) else False
            # A digit must sit inside a word ("D1SC0UNT"); "$ALE" may lead with its symbol.
            if not (left and right) and not (c in "$€@" and (left or right)):
                return word
    return word.translate(_LEET)


def fold_spam_spelling(text: str) -> str:
    """'FR€E' -> 'FREE', 'D1SC0UNT' -> 'DISCOUNT', leaving codes such as 'AB12' alone."""
    return _LEET_WORD.sub(_fold_leet_word, text)


def _greeting_name(match: re.Match[str]) -> str:
    name = match.group("name")
    first = name.split()[0].lower()
    if first in _GENERIC_ADDRESSEES:
        return match.group(0)
    return f"{match.group('greet')} <NAME>"


def _phone_or_keep(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return "<PHONE>" if 8 <= digits <= 15 else match.group(0)


def _indian_mobile_or_ref(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) == 10 and digits[0] in "6789":
        return "<PHONE>"
    if len(digits) == 12 and digits.startswith("91") and digits[2] in "6789":
        return "<PHONE>"
    return "<REF>"


Replacement = str | Callable[[re.Match[str]], str]

# (pattern, replacement, is personal data). Order matters: specific patterns first, so a
# date is never read as a phone number and an e-mail never as a link.
_STEPS: Final[tuple[tuple[re.Pattern[str], Replacement, bool], ...]] = (
    (_CORPUS_NUMBER_MASK, "<NUM>", False),
    (_EMAIL, "<EMAIL>", True),
    (_URL, "<URL>", False),
    (_VPA, "<VPA>", True),
    (_LEET_WORD, _fold_leet_word, False),
    (_GREETING, _greeting_name, True),
    (_TITLED_NAME, "<NAME>", True),
    (_AMOUNT, "<AMOUNT>", False),
    (_PERCENT, "<PCT>", False),
    (_DATE, "<DATE>", False),
    (_TIME, "<TIME>", False),
    (_MASKED, "<ACCT>", True),
    (_PLUS_NUMBER, "<PHONE>", True),
    (_LONG_DIGITS, _indian_mobile_or_ref, True),
    (_SEPARATED_DIGITS, _phone_or_keep, True),
    (_HASH_REF, "<REF>", False),
    (_ALNUM_CODE, "<CODE>", False),
    (_YEAR, "<YEAR>", False),
    (_CODE, "<CODE>", False),
    (_NUMBER, "<NUM>", False),
)
_PII_STEP_COUNT: Final = max(i for i, step in enumerate(_STEPS) if step[2]) + 1
# Every step from _AMOUNT on can only match a text holding a digit, and no step adds one,
# so once a text has none left those steps are skipped (same output, a third of the time).
_FIRST_DIGIT_STEP: Final = next(i for i, step in enumerate(_STEPS) if step[0] is _AMOUNT)
_DIGIT = re.compile(r"\d")


# A run of digits; written \d\d* rather than \d+ because `re` prefix-scans only for a
# pattern that opens with a character class, not with a repeat.
_DIGIT_RUN = re.compile(r"\d\d*")


class _NearDigits:
    """``pattern.sub(repl, text)`` for a pattern that `re` cannot prefix-scan.

    Searching the whole text tries such a pattern at every position, which made _AMOUNT
    and _DATE a quarter of normalize(). Here `re` scans for runs of digits (a character
    class it can skip through) and tries the pattern only in the ``reach`` positions
    before each run. The lazy ``.{0,reach}?`` prefix tries those positions left to right
    with the pattern's own backtracking order, so a match found is the one ``sub`` would
    have found. None is missed if, as for _AMOUNT and _DATE, every match's first digit is
    at most ``reach`` characters after the match's start and follows a non-digit (a
    currency word, a month name, a space or a word boundary before the number): a match
    then never starts inside a run of digits, only up to ``reach`` before one.
    """

    def __init__(self, pattern: re.Pattern[str], reach: int, repl: str) -> None:
        self._window = re.compile(rf"(?s:.{{0,{reach}}}?)({pattern.pattern})", pattern.flags)
        self._reach = reach
        self._repl = repl

    def sub(self, text: str) -> str:
        reach, window, search_run = self._reach, self._window.match, _DIGIT_RUN.search
        parts: list[str] = []
        kept = 0  # text[:kept] is already in parts
        start = 0  # no match starts before this
        while (run := search_run(text, start)) is not None:
            low = max(start, run.start() - reach)
            found = window(text, low)
            if found is None:
                # Nothing starts in low..low+reach nor later inside this run; a match
                # after it holds a later digit and starts at most reach before that.
                start = max(low + reach + 1, run.end())
                continue
            parts += (text[kept : found.start(1)], self._repl)
            kept = start = found.end(1)
        if not parts:
            return text
        parts.append(text[kept:])
        return "".join(parts)


# Steps normalize() runs digit by digit; ``reach``: the longest currency prefix ("sgd.:"
# and a space) or month name ("september." and a space) before a match's first digit.
_NEAR_DIGITS: Final[dict[re.Pattern[str], _NearDigits]] = {
    _AMOUNT: _NearDigits(_AMOUNT, 6, "<AMOUNT>"),
    _DATE: _NearDigits(_DATE, 11, "<DATE>"),
}
# For a step, a pattern every one of its matches must contain: far cheaper to scan for
# than the step's own pattern, which then runs only on texts that hold the hint. Each
# opens with one literal or character class, the only openings `re` prefix-scans for:
# a repeat ("\d{8}"), a lookaround, or a branch or case-insensitive letter up front
# make it try the whole pattern at every position. Case-insensitive letters are spelled
# out instead ("[xX]": (?i) matches no other character for a, h, m, p or x).
_HINTS: Final[dict[re.Pattern[str], re.Pattern[str]]] = {
    _EMAIL: re.compile("@"),
    _VPA: re.compile("@"),
    _URL: _URL_HINT,
    _PERCENT: re.compile(r"%|p(?i:ercent|or ciento|our cent|rozent)|P(?i:ercent|or ciento|our cent|rozent)"),
    _TIME: re.compile(r"\d(?:[:hH]\d|\s?[aApP]\.?[mM])"),
    # [x*•#.][-\s]?\d or \d[x*•], found from the digit
    _MASKED: re.compile(r"\d(?:(?<=[xX*•#.]\d)|(?<=[xX*•#.][-\s]\d)|(?=[xX*•]))"),
    _PLUS_NUMBER: re.compile(r"\+"),
    _HASH_REF: re.compile("#"),
    _LEET_WORD: _LEET_HINT,
    _GREETING: _GREETING_HINT,
    _TITLED_NAME: re.compile("M[rs]|Dr"),
    _LONG_DIGITS: re.compile(r"\d\d{7}"),
    # A letter and a digit in one run of letters, digits and hyphens: what the pattern's
    # lookaheads need ("33--a" codes "33", so adjacency alone was not enough).
    _ALNUM_CODE: re.compile(r"[A-Za-z][A-Za-z\d-]*\d|\d[A-Za-z\d-]*[A-Za-z]"),
    _SEPARATED_DIGITS: re.compile(r"\d[\s.-]\d"),
    _YEAR: re.compile(r"19\d\d|20\d\d"),
    _CODE: re.compile(r"\d\d{3}"),
}
# normalize()'s view of _STEPS: each step with its hint and its digit-by-digit runner
# (None where it has none), looked up once here rather than twice per step and message.
_PLAN: Final = tuple(
    (pattern, repl, _HINTS.get(pattern), _NEAR_DIGITS.get(pattern)) for pattern, repl, _personal in _STEPS
)
_SHIELD_BASE: Final = 0xF0000  # a private-use plane no pattern above matches
_SHIELD_CHARS = re.compile("[\U000f0000-\U000fffff]")


def scrub_pii(text: str) -> str:
    """Personal data replaced by placeholders; everything else kept as written.

    Runs the same ordered patterns as ``normalize`` so both agree on what a span is (a
    date is never scrubbed as a phone number), but spans that are not personal data are
    shielded and restored verbatim afterwards.
    """
    text = _SHIELD_CHARS.sub("", html.unescape(text.translate(_ZERO_WIDTH)))
    shielded: list[str] = []

    def shield(match: re.Match[str]) -> str:
        shielded.append(match.group(0))
        return chr(_SHIELD_BASE + len(shielded) - 1)

    for pattern, repl, personal in _STEPS[:_PII_STEP_COUNT]:
        if pattern is _URL:
            text = pattern.sub(lambda m: "<URL>" if _URL_WITH_PII.search(m.group(0)) else shield(m), text)
        elif personal:
            text = pattern.sub(repl, text)
        elif pattern is not _LEET_WORD:
            text = pattern.sub(shield, text)
    return _SHIELD_CHARS.sub(lambda m: shielded[ord(m.group(0)) - _SHIELD_BASE], text)


def normalize(text: str) -> str:
    """The model's view of one message (see the module docstring)."""
    if text.isascii():
        # Most traffic: ASCII holds no zero-width or foldable character and NFKC leaves it
        # as it is, so only an entity ("&amp;", "&nbsp;") can bring Unicode in.
        if "&" in text:
            text = html.unescape(text)
            if not text.isascii():
                text = fold_unicode(text)
    else:
        # Zero-width characters go before unescaping so they cannot hide an entity.
        text = fold_unicode(html.unescape(text.translate(_ZERO_WIDTH)))
    # The guards skip steps that cannot match; the output is the same as running them all
    # (tests/model/test_normalize.py checks that against a run of every step).
    checked: str | None = None  # the text last found to hold a digit
    for index, (pattern, repl, hint, near_digits) in enumerate(_PLAN):
        # sub() hands back the same object when it replaced nothing, so the digit scan
        # runs again only after a step that changed the text.
        if index >= _FIRST_DIGIT_STEP and text is not checked:
            if _DIGIT.search(text) is None:
                break
            checked = text
        if hint is not None and hint.search(text) is None:
            continue
        text = pattern.sub(repl, text) if near_digits is None else near_digits.sub(text)
    # Placeholders can split a word ("0AA$A" -> "<num>aa$a"); fold what they expose so
    # that normalising again changes nothing.
    text = text.lower()
    if _LEET_HINT.search(text) is not None:
        text = _LEET_WORD.sub(_fold_leet_word, text)
    if _REPEAT_PUNCT_HINT.search(text) is not None:
        text = _REPEAT_PUNCT.sub(r"\1", text)
    if _REPEAT_LETTER_HINT.search(text) is not None:
        text = _REPEAT_LETTER.sub(r"\1\1", text)
    # str.split() and \s agree on what whitespace is (every code point checked), and
    # splitting is several times cheaper than the regex.
    return " ".join(text.split())


def template_key(text: str) -> str:
    """A key shared by messages that differ only in names, numbers, links or amounts.

    Used to de-duplicate and to keep one template on one side of a split.
    """
    key = normalize(text)
    key = re.sub(r"<[a-z]+>", "#", key)
    key = re.sub(r"[^\w#]+", " ", key)
    return _SPACE.sub(" ", key).strip()


_PLACEHOLDER_NAME = re.compile(r"<([a-z]+)>")


def display_token(feature: str) -> str:
    """'<url>' -> '<URL>' for people reading explanations."""
    if "<" not in feature:  # most features: every check explains eight of them
        return feature
    return _PLACEHOLDER_NAME.sub(lambda m: f"<{m.group(1).upper()}>", feature)


__all__ = [
    "PLACEHOLDERS",
    "TOKEN_PATTERN",
    "display_token",
    "fold_spam_spelling",
    "fold_unicode",
    "normalize",
    "scrub_pii",
    "template_key",
]
