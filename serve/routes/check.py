"""POST /v1/check and /v1/check/batch: classify, apply the consent rules, store, answer.

The decision is committed to the audit trail before the response is sent; if the store
or the model is unavailable the answer is 503, never an allow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter

from serve.auth import SenderCaller
from serve.consent.engine import decide
from serve.consent.records import CheckRequest, Classification
from serve.model_runtime import LoadedModel
from serve.problems import Problem
from serve.routes import render
from serve.schemas import CheckBatchIn, CheckBatchOut, CheckIn, CheckOut, FeatureOut
from serve.services import Services, ServicesDep
from serve.store import repository
from serve.store.errors import NotFound, StaleDecision
from serve.store.views import StoredDecision

router = APIRouter(prefix="/v1", tags=["check"])
log = logging.getLogger("sendgate.decisions")

# An allow can go stale between snapshot and write (an opt-out arrived); decide again.
_ATTEMPTS = 3


def _request(body: CheckIn, services: Services, now: datetime) -> CheckRequest:
    return CheckRequest(
        text=body.text,
        to=body.to,
        sender=body.sender or services.settings.default_sender,
        send_at=body.send_at.astimezone(UTC) if body.send_at else now,
        declared_type=body.declared_type,
        transaction_ref=body.transaction_ref,
        in_reply_to=body.in_reply_to,
    )


def _classify(model: LoadedModel, texts: Sequence[str]) -> list[tuple[Classification, list[FeatureOut]]]:
    out = []
    for text in texts:
        # One feature pass gives both the label and the words that drove it.
        result, contributions = model.classifier.classify_explained(text)
        classification = Classification(
            message_type=result.message_type,  # type: ignore[arg-type]
            probabilities=result.probabilities,
            tau_promo=model.classifier.tau_promo,
            tau_conf=model.classifier.tau_conf,
            model_version=model.version,
        )
        explanation = [FeatureOut(feature=c.feature, weight=c.weight) for c in contributions]
        out.append((classification, explanation))
    return out


def _out(stored: StoredDecision) -> CheckOut:
    return render.check_out(stored)


def _decide_all(
    services: Services,
    requests: list[CheckRequest],
    classified: list[tuple[Classification, list[FeatureOut]]],
    now: datetime,
) -> tuple[StoredDecision, ...]:
    policy = services.policy
    items = [(r, c, e) for r, (c, e) in zip(requests, classified, strict=True)]
    for attempt in range(_ATTEMPTS):
        try:
            with services.session() as session:
                return repository.decide_and_record_batch(
                    session=session,
                    items=items,
                    decide=lambda i, snap: decide(classified[i][0], requests[i], snap, policy, now),
                    window=policy.conversation_window,
                    created_at=now,
                )
        except NotFound as exc:
            field = "sender" if exc.entity == "sender" else exc.entity
            raise Problem(
                422,
                "validation",
                "Invalid request",
                str(exc),
                [{"field": field, "message": f"{exc}; register it with POST /v1/senders"}],
            ) from exc
        except StaleDecision:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _record_metrics(services: Services, stored: Sequence[StoredDecision]) -> None:
    """Metrics and one log event per decision; the text only if the operator asked for it."""
    for item in stored:
        services.metrics.decisions.labels(decision=item.decision.decision).inc()
        for reason in item.decision.reasons:
            services.metrics.reasons.labels(code=reason.code).inc()
        fields: dict[str, object] = {
            "decision_id": item.decision_id,
            "decision": item.decision.decision,
            "treated_as": item.decision.treated_as,
            "codes": [reason.code for reason in item.decision.reasons],
            "model_version": item.classification.model_version,
        }
        if services.settings.log_message_text:
            fields["text"] = item.request.text
        log.info("decision", extra=fields)


@router.post("/check", response_model=CheckOut)
def check(body: CheckIn, services: ServicesDep, caller: SenderCaller) -> CheckOut:
    model = services.model()
    now = datetime.now(UTC)
    request = _request(body, services, now)
    stored = _decide_all(services, [request], _classify(model, [request.text]), now)
    _record_metrics(services, stored)
    return _out(stored[0])


@router.post("/check/batch", response_model=CheckBatchOut)
def check_batch(body: CheckBatchIn, services: ServicesDep, caller: SenderCaller) -> CheckBatchOut:
    model = services.model()
    now = datetime.now(UTC)
    requests = [_request(m, services, now) for m in body.messages]
    stored = _decide_all(services, requests, _classify(model, [r.text for r in requests]), now)
    _record_metrics(services, stored)
    return CheckBatchOut(results=[_out(s) for s in stored])
