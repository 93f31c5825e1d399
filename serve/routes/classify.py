"""POST /v1/classify: labels only, no rules, nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve.auth import SenderCaller
from serve.model_runtime import ModelHolder, ModelUnavailable
from serve.problems import Problem
from serve.schemas import ClassifyRequest, ClassifyResponse, ClassifyResult, Probabilities

router = APIRouter(prefix="/v1", tags=["classification"])


@router.post("/classify", response_model=ClassifyResponse)
def classify(body: ClassifyRequest, request: Request, caller: SenderCaller) -> ClassifyResponse:
    holder: ModelHolder = request.app.state.models
    try:
        model = holder.current
    except ModelUnavailable as exc:
        raise Problem(503, "model_unavailable", "Model unavailable", str(exc)) from exc
    results = model.classifier.classify(body.texts)
    return ClassifyResponse(
        model_version=model.version,
        results=[
            ClassifyResult(
                message_type=r.message_type,
                probabilities=Probabilities(**r.probabilities),
                treated_as=r.treated_as,
            )
            for r in results
        ],
    )
