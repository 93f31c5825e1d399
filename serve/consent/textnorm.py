"""Text folding shared by keyword matching, revocation phrases and content checks.

Matching is case-, accent- and punctuation-insensitive so that "Stop.", "ARRÊT" and
"Opt-Out" meet the policy's keyword lists however a phone or a person typed them.
"""

from __future__ import annotations

import re
import unicodedata

# Combining marks left after NFKD (Latin accents and their extensions). Scripts whose
# marks carry meaning (Devanagari nukta, for instance) are outside these ranges.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower-case, accent-free form of ``text``; punctuation and spacing are kept."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()


def words(text: str) -> list[str]:
    """The letter-and-digit runs of ``fold(text)``."""
    return [w for w in _NON_WORD.split(fold(text)) if w]


def keyword_key(text: str) -> str:
    """The form keywords are compared in: folded, with every non-alphanumeric removed."""
    return "".join(words(text))


def spaced(text: str) -> str:
    """Folded words joined by single spaces: what revocation phrases are matched against."""
    return " ".join(words(text))
