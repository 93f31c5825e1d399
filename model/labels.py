"""The three message types and how strict each one is (RULES.md section 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

MessageType = Literal["promotional", "transactional", "conversational"]

PROMOTIONAL: Final = "promotional"
TRANSACTIONAL: Final = "transactional"
CONVERSATIONAL: Final = "conversational"

# Fixed column order for probabilities everywhere (model, CSVs, MLflow signature).
LABELS: Final[tuple[str, ...]] = (PROMOTIONAL, TRANSACTIONAL, CONVERSATIONAL)

# Higher is stricter: promotional needs the most consent.
STRICTNESS: Final[Mapping[str, int]] = {CONVERSATIONAL: 0, TRANSACTIONAL: 1, PROMOTIONAL: 2}

# Corpus labels that exist but must never reach training (scams, unreadable text).
EXCLUDE: Final = "exclude"


def stricter(a: str, b: str) -> str:
    """The stricter of two message types."""
    return a if STRICTNESS[a] >= STRICTNESS[b] else b


def top_label(probabilities: Mapping[str, float]) -> str:
    # Ties resolve towards the stricter type, so a tie can never loosen treatment.
    return max(LABELS, key=lambda label: (probabilities[label], STRICTNESS[label]))


def treated_as(probabilities: Mapping[str, float], tau_promo: float) -> str:
    """The type the consent rules apply before any caller declaration.

    UNCERTAIN_PROMOTIONAL: a message whose P(promotional) reaches tau_promo is treated
    as promotional even when another label wins, because a missed promotion is the
    costly error.
    """
    label = top_label(probabilities)
    if probabilities[PROMOTIONAL] >= tau_promo:
        return PROMOTIONAL
    return label
