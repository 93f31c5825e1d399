"""Time ``decide()`` over a mix of realistic cases: ``python -m serve.bench_rules``.

Warms the phone-lookup cache first, then times each call with perf_counter_ns and
prints p50 / p99 / mean in microseconds, calls per second, and the versions that
produced the figures. Reads nothing but the shipped policy; writes nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from serve.consent.engine import decide
from serve.consent.policy import Policy, load_policy
from serve.consent.records import (
    CheckRequest,
    Classification,
    ConsentKind,
    ConsentRecord,
    ConsentSnapshot,
    InboundRecord,
    MessageType,
    OptOutState,
    SenderProfile,
)

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 10:00 PST, 13:00 EST
ACME = SenderProfile("acme", "Acme", "Acme support: help@acme.example")


@dataclass(frozen=True)
class Case:
    label: str
    classification: Classification
    request: CheckRequest
    snapshot: ConsentSnapshot
    now: datetime = NOW


def _classification(promotional: float, transactional: float, conversational: float) -> Classification:
    probabilities = {
        "promotional": promotional,
        "transactional": transactional,
        "conversational": conversational,
    }
    types: tuple[MessageType, ...] = ("promotional", "transactional", "conversational")
    label = max(types, key=probabilities.__getitem__)
    return Classification(label, probabilities, 0.35, 0.6, "bench")


def _consent(phone: str, kind: ConsentKind, scope: str | None = None) -> ConsentRecord:
    return ConsentRecord("con_1", "acme", phone, kind, "web_form", "form v3", NOW - timedelta(days=30), scope)


def cases() -> list[Case]:
    """A mix of allows, blocks and reviews across jurisdictions and rule families."""
    promo = _classification(0.92, 0.05, 0.03)
    trans = _classification(0.03, 0.93, 0.04)
    chat = _classification(0.02, 0.08, 0.90)
    unsure = _classification(0.30, 0.45, 0.25)
    text = "Acme: 20% off all tents this weekend! Reply STOP to opt out."
    shipped = "Acme: your order 12345 has shipped."

    def snap(phone: str, *consents: ConsentRecord, **extra: object) -> ConsentSnapshot:
        return ConsentSnapshot(ACME, phone, consents, **extra)  # type: ignore[arg-type]

    def req(body: str, phone: str, **extra: object) -> CheckRequest:
        return CheckRequest(body, phone, "acme", NOW, **extra)  # type: ignore[arg-type]

    ca, fl, tx, toll = "+14155550123", "+13055550123", "+12145550123", "+18005550123"
    uk, india = "+447400123456", "+919876543210"
    inbound = InboundRecord("inb_1", "acme", ca, "hi", NOW - timedelta(hours=1), "conversation_opened")
    return [
        Case("promo allow (US)", promo, req(text, ca), snap(ca, _consent(ca, "express_written"))),
        Case("promo block: no consent", promo, req(text, ca), snap(ca)),
        Case(
            "promo block: quiet hours (FL)",
            promo,
            req(text, fl),
            snap(fl, _consent(fl, "express_written")),
            now=NOW + timedelta(hours=8),
        ),
        Case(
            "promo block: frequency cap (FL)",
            promo,
            req(text, fl),
            snap(
                fl,
                _consent(fl, "express_written"),
                recent_promotional_sends=tuple(NOW - timedelta(hours=h) for h in (2, 5, 9)),
            ),
        ),
        Case("promo allow (TX)", promo, req(text, tx), snap(tx, _consent(tx, "express_written"))),
        Case(
            "promo block: toll-free zones",
            promo,
            req(text, toll),
            snap(toll, _consent(toll, "express_written")),
        ),
        Case("promo allow (UK)", promo, req(text, uk), snap(uk, _consent(uk, "express_written"))),
        Case(
            "promo block: India night",
            promo,
            req(text, india),
            snap(india, _consent(india, "express_written")),
        ),
        Case(
            "transactional allow (scoped)",
            trans,
            req(shipped, ca, transaction_ref="order:12345"),
            snap(ca, _consent(ca, "express", "order:12345")),
        ),
        Case(
            "transactional block: out of scope",
            trans,
            req(shipped, ca, transaction_ref="order:12345"),
            snap(ca, _consent(ca, "express", "order:999")),
        ),
        Case(
            "conversational allow (reply)",
            chat,
            req("See you at 3", ca, in_reply_to="inb_1"),
            snap(ca, inbound=(inbound,)),
        ),
        Case(
            "opted out",
            trans,
            req(shipped, ca),
            snap(ca, opt_out=OptOutState(NOW - timedelta(days=1), "inb_stop")),
        ),
        Case(
            "low confidence review", unsure, req("Your points: 1,200", ca), snap(ca, _consent(ca, "express"))
        ),
    ]


def run(policy: Policy, mix: Sequence[Case], calls: int, warmup: int) -> list[int]:
    for _ in range(warmup):
        for case in mix:
            decide(case.classification, case.request, case.snapshot, policy, case.now)
    timings: list[int] = []
    clock = time.perf_counter_ns
    for i in range(calls):
        case = mix[i % len(mix)]
        started = clock()
        decide(case.classification, case.request, case.snapshot, policy, case.now)
        timings.append(clock() - started)
    return timings


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def report(timings: list[int], mix: Sequence[Case], policy: Policy) -> str:
    per_case: dict[str, list[int]] = {}
    for i, elapsed in enumerate(timings):
        per_case.setdefault(mix[i % len(mix)].label, []).append(elapsed)
    ordered = sorted(timings)
    micro = [t / 1000 for t in ordered]
    p50 = micro[len(micro) // 2]
    p99 = micro[min(len(micro) - 1, int(len(micro) * 0.99))]
    mean = statistics.fmean(micro)
    outcomes = Counter(decide(c.classification, c.request, c.snapshot, policy, c.now).decision for c in mix)
    return "\n".join(
        [
            f"decide() over {len(timings):,} calls, {len(mix)} cases ({dict(outcomes)}), warm cache",
            f"  p50 {p50:8.1f} us",
            f"  p99 {p99:8.1f} us",
            f"  mean {mean:7.1f} us",
            f"  max {micro[-1]:8.1f} us",
            f"  {1e6 / mean:,.0f} calls/s (one thread)",
            "  median by case:",
            *(
                f"    {statistics.median(values) / 1000:7.1f} us  {label}"
                for label, values in sorted(per_case.items(), key=lambda kv: statistics.median(kv[1]))
            ),
            f"Python {platform.python_version()} ({platform.python_implementation()}, {platform.machine()}); "
            f"phonenumbers {_version('phonenumbers')}, pydantic {_version('pydantic')}; "
            f"policy {policy.version}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=50_000, help="timed calls (default 50,000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed passes over the mix first")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0:
        parser.error("--calls must be >= 1 and --warmup >= 0")
    policy = load_policy()
    mix = cases()
    print(report(run(policy, mix, args.calls, args.warmup), mix, policy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
