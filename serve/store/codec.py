"""JSON forms of the records kept inside decision rows, and their way back.

Only values the repository itself wrote are decoded here, so the casts to the record
Literals are safe: the write path validated them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from serve.consent.records import (
    CheckRequest,
    Jurisdiction,
    MessageType,
    Reason,
    TraceEntry,
)
from serve.store.views import FeatureWeight, WeightedFeature


def request_to_json(request: CheckRequest) -> dict[str, Any]:
    return {
        "text": request.text,
        "to": request.to,
        "sender": request.sender,
        "send_at": request.send_at.isoformat(),
        "declared_type": request.declared_type,
        "transaction_ref": request.transaction_ref,
        "in_reply_to": request.in_reply_to,
    }


def request_from_json(data: Mapping[str, Any]) -> CheckRequest:
    return CheckRequest(
        text=str(data["text"]),
        to=str(data["to"]),
        sender=str(data["sender"]),
        send_at=datetime.fromisoformat(str(data["send_at"])),
        declared_type=cast(MessageType | None, data.get("declared_type")),
        transaction_ref=cast(str | None, data.get("transaction_ref")),
        in_reply_to=cast(str | None, data.get("in_reply_to")),
    )


def reasons_to_json(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [{"code": r.code, "message": r.message, "source": r.source} for r in reasons]


def reasons_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[Reason, ...]:
    return tuple(
        Reason(code=str(r["code"]), message=str(r["message"]), source=str(r["source"])) for r in data
    )


def trace_to_json(trace: Sequence[TraceEntry]) -> list[dict[str, Any]]:
    return [
        {
            "code": t.code,
            "applies": t.applies,
            "passed": t.passed,
            "effect": t.effect,
            "detail": t.detail,
        }
        for t in trace
    ]


def trace_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[TraceEntry, ...]:
    return tuple(
        TraceEntry(
            code=str(t["code"]),
            applies=bool(t["applies"]),
            passed=bool(t["passed"]),
            effect=t["effect"],
            detail=str(t.get("detail", "")),
        )
        for t in data
    )


def jurisdiction_to_json(jurisdiction: Jurisdiction) -> dict[str, Any]:
    return {
        "country": jurisdiction.country,
        "region": jurisdiction.region,
        "policy_key": jurisdiction.policy_key,
        "time_zones": list(jurisdiction.time_zones),
    }


def jurisdiction_from_json(data: Mapping[str, Any]) -> Jurisdiction:
    region = data.get("region")
    return Jurisdiction(
        country=str(data["country"]),
        region=None if region is None else str(region),
        policy_key=str(data["policy_key"]),
        time_zones=tuple(str(zone) for zone in data["time_zones"]),
    )


def explanation_to_json(
    explanation: Sequence[WeightedFeature] | None,
) -> list[dict[str, Any]] | None:
    if explanation is None:
        return None
    return [{"feature": item.feature, "weight": float(item.weight)} for item in explanation]


def explanation_from_json(
    data: Sequence[Mapping[str, Any]] | None,
) -> tuple[FeatureWeight, ...] | None:
    if data is None:
        return None
    return tuple(FeatureWeight(feature=str(item["feature"]), weight=float(item["weight"])) for item in data)
