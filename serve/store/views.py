"""What the repository takes and hands back beyond ``serve.consent.records``.

The engine's records stay the contract for deciding; these add what only the audit
trail needs (the stored request, reviews, pages of decisions, training exports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from serve.consent.records import (
    CheckRequest,
    Classification,
    Decision,
    InboundAction,
    MessageType,
)

Verdict = Literal["confirm", "override_allow", "override_block"]


class Interpretation(Protocol):
    """What ``record_inbound`` needs from the engine's reading of an inbound text.

    Structural, so the store does not import the engine: any object with these
    attributes (e.g. the result of ``serve.consent.inbound.interpret_inbound``) will do.
    """

    @property
    def action(self) -> InboundAction: ...

    @property
    def needs_review(self) -> bool: ...

    @property
    def keyword(self) -> str | None: ...

    @property
    def reason_code(self) -> str | None: ...


class WeightedFeature(Protocol):
    """One entry of a model explanation (``model.classifier.Contribution`` fits)."""

    @property
    def feature(self) -> str: ...

    @property
    def weight(self) -> float: ...


@dataclass(frozen=True)
class FeatureWeight:
    feature: str
    weight: float


@dataclass(frozen=True)
class DecisionInput:
    """One decision to store: the engine's output and everything it was decided from."""

    decision: Decision
    request: CheckRequest
    classification: Classification
    explanation: Sequence[WeightedFeature] | None = None


@dataclass(frozen=True)
class ReviewRecord:
    review_id: str
    decision_id: str
    verdict: Verdict
    correct_type: MessageType | None
    note: str
    reviewer: str
    created_at: datetime


@dataclass(frozen=True)
class StoredDecision:
    """A decision as kept in the audit trail, with every review of it (oldest first)."""

    decision_id: str
    created_at: datetime
    request: CheckRequest
    classification: Classification
    decision: Decision
    explanation: tuple[FeatureWeight, ...] | None
    reviews: tuple[ReviewRecord, ...] = ()

    @property
    def reviewed(self) -> bool:
        return bool(self.reviews)


@dataclass(frozen=True)
class DecisionPage:
    items: tuple[StoredDecision, ...]
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class ExportRow:
    """One training example from a review (``text,label,source,reviewed_at``)."""

    text: str
    label: MessageType
    source: Literal["review"]
    reviewed_at: datetime
