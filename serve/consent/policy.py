"""The consent policy: a versioned TOML file validated once into an indexed ``Policy``.

``load_policy`` is the only place that reads the file. Everything ``decide`` needs per
call (rules by id, jurisdictions by country and state, compiled patterns, keyword
tables) is built here, so the engine never parses anything.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from serve.consent.records import ConsentKind, ConsentMethod, MessageType
from serve.consent.textnorm import keyword_key

Effect = Literal["block", "review", "none"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# One (start, end) pair per weekday, Monday first; start inclusive, end exclusive.
Weekly = tuple[tuple[time, time], ...]

DEFAULT_POLICY_PATH: Final = Path(__file__).with_name("policy.toml")
DEFAULT_KEY: Final = "DEFAULT"
WEEKDAYS: Final[tuple[Weekday, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Rules the engine evaluates for every message, whatever the jurisdiction.
UNIVERSAL_RULES: Final = (
    "UNCERTAIN_PROMOTIONAL",
    "DECLARED_TYPE_MISMATCH",
    "LOW_CONFIDENCE",
    "OPTED_OUT",
    "OPT_OUT_CONFIRMATION",
    "TRANSACTIONAL_NO_CONSENT",
    "TRANSACTIONAL_OUT_OF_SCOPE",
    "CONVERSATIONAL_NO_THREAD",
    "INBOUND_NEEDS_REVIEW",
    "REPLY_BEYOND_QUESTION",
    "CONSENT_EXPIRED",
    "NO_CONSENT_RULE_IN_FORCE",
    "PROMO_MISSING_OPT_OUT",
    "PROMO_MISSING_SENDER_ID",
)
PASS_CODES: Final = (
    "PROMO_CONSENT_OK",
    "TRANSACTIONAL_CONSENT_OK",
    "CONVERSATION_OPEN",
    "CONVERSATIONAL_CONSENT_OK",
    "OPT_OUT_CONFIRMATION",
)
INBOUND_CODES: Final = (
    "OPT_OUT_KEYWORD",
    "OPT_IN_KEYWORD",
    "HELP_KEYWORD",
    "REVOKED_BY_REASONABLE_MEANS",
    "KEYWORD_IN_TEXT",
    "CONVERSATION",
    "EMPTY_MESSAGE",
)
RULE_FIELDS: Final = frozenset({"sender", "jurisdiction", "treated_as", "detail"})
INBOUND_FIELDS: Final = frozenset({"keyword"})

Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, Field(min_length=1)]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleModel(_Model):
    code: Code
    effect: Effect
    message: Text
    source: Text
    effective_from: date
    note: str = ""


class PassModel(_Model):
    message: Text


class DaySpanModel(_Model):
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> DaySpanModel:
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} must be after start {self.start:%H:%M}")
        return self


class WindowModel(DaySpanModel):
    rule: Text
    days: dict[Weekday, DaySpanModel] = Field(default_factory=dict)
    types: tuple[MessageType, ...] = ("promotional",)


class CapModel(_Model):
    rule: Text
    max_messages: Annotated[int, Field(ge=1)]
    window_hours: Annotated[float, Field(gt=0, le=24 * 31)]
    types: tuple[MessageType, ...] = ("promotional",)


class ImpliedModel(_Model):
    method: ConsentMethod
    valid_months: Annotated[int, Field(ge=1)] | None = None


class PromoConsentModel(_Model):
    rule: Text
    accepts: Annotated[tuple[ConsentKind, ...], Field(min_length=1)]
    require_evidence: bool = True
    # Marketing consent is program-wide; a consent scoped to an order covers that order.
    require_program_scope: bool = True
    implied: tuple[ImpliedModel, ...] = ()


class JurisdictionModel(_Model):
    name: Text
    countries: tuple[CountryCode, ...] = ()
    parent: str | None = None
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    promotional_consent: PromoConsentModel | None = None
    quiet_hours: WindowModel | None = None
    frequency_cap: CapModel | None = None


class SettingsModel(_Model):
    conversation_window_hours: Annotated[float, Field(gt=0)]
    opt_out_confirmation_minutes: Annotated[float, Field(ge=0)]
    plausible_min_probability: Probability
    tau_promo: Probability
    tau_conf: Probability
    implied_methods: tuple[ConsentMethod, ...]


class KeywordsModel(_Model):
    opt_out: Annotated[tuple[Text, ...], Field(min_length=1)]
    opt_in: Annotated[tuple[Text, ...], Field(min_length=1)]
    help: Annotated[tuple[Text, ...], Field(min_length=1)]


class InboundReasonModel(_Model):
    message: Text
    source: Text


class InboundModel(_Model):
    revocation_patterns: dict[str, Annotated[tuple[Text, ...], Field(min_length=1)]]
    reasons: dict[str, InboundReasonModel]


class ContentModel(_Model):
    opt_out_patterns: Annotated[tuple[Text, ...], Field(min_length=1)]


class PolicyFile(_Model):
    """The file as written; ``load_policy`` turns it into the indexed ``Policy``."""

    version: Text
    settings: SettingsModel
    keywords: KeywordsModel
    inbound: InboundModel
    content: ContentModel
    passes: dict[Code, PassModel]
    rules: dict[str, RuleModel]
    jurisdictions: dict[str, JurisdictionModel]


# ----------------------------------------------------------------- the indexed policy


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    code: str
    effect: Effect
    message: str
    source: str
    effective_from: date
    in_force_from: datetime  # effective_from at 00:00 UTC

    def in_force(self, instant: datetime) -> bool:
        return instant >= self.in_force_from

    def render(self, *, sender: str, jurisdiction: str, treated_as: str, detail: str) -> str:
        return self.message.format(
            sender=sender, jurisdiction=jurisdiction, treated_as=treated_as, detail=detail
        )


@dataclass(frozen=True, slots=True)
class ImpliedBasis:
    method: str
    valid_months: int | None


@dataclass(frozen=True, slots=True)
class PromoConsent:
    rule: Rule
    accepts: frozenset[str]
    require_evidence: bool
    require_program_scope: bool
    implied: Mapping[str, ImpliedBasis]  # by consent method


@dataclass(frozen=True, slots=True)
class TimeWindow:
    rule: Rule
    weekly: Weekly
    types: frozenset[str]

    def describe(self, weekday: int) -> str:
        start, end = self.weekly[weekday]
        return f"{start:%H:%M}-{end:%H:%M}"


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    rule: Rule
    max_messages: int
    window: timedelta
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class JurisdictionPolicy:
    """One jurisdiction with everything inherited from its parent already merged in."""

    key: str
    name: str
    promotional: PromoConsent
    windows: tuple[TimeWindow, ...]
    caps: tuple[FrequencyCap, ...]


@dataclass(frozen=True, slots=True)
class InboundReason:
    code: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    path: str
    conversation_window: timedelta
    confirmation_window: timedelta
    plausible_min_probability: float
    tau_promo: float
    tau_conf: float
    implied_methods: frozenset[str]
    rules: Mapping[str, Rule]
    passes: Mapping[str, str]  # pass code -> message template
    jurisdictions: Mapping[str, JurisdictionPolicy]
    by_country: Mapping[str, JurisdictionPolicy]
    by_region: Mapping[tuple[str, str], JurisdictionPolicy]
    # keyword_key(keyword) -> (action, keyword as the policy spells it)
    keywords: Mapping[str, tuple[str, str]]
    opt_out_keys: frozenset[str]
    revocation_patterns: tuple[tuple[str, re.Pattern[str]], ...]
    opt_out_content: tuple[re.Pattern[str], ...]
    inbound_reasons: Mapping[str, InboundReason]

    @property
    def default(self) -> JurisdictionPolicy:
        return self.jurisdictions[DEFAULT_KEY]

    @property
    def rule_codes(self) -> frozenset[str]:
        """Every code a failing rule can give."""
        return frozenset(rule.code for rule in self.rules.values())

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def jurisdiction_for(self, country: str, region: str | None) -> JurisdictionPolicy:
        if region is not None:
            found = self.by_region.get((country, region))
            if found is not None:
                return found
        return self.by_country.get(country, self.jurisdictions[DEFAULT_KEY])


def load_policy(path: Path | str = DEFAULT_POLICY_PATH) -> Policy:
    """Read, validate and index a policy file; raise ``PolicyError`` naming file and field."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(f"{where}: cannot read the policy file: {exc.strerror}") from exc
    return parse_policy(raw.decode("utf-8", errors="strict"), name=where)


def parse_policy(text: str, *, name: str = "policy.toml") -> Policy:
    """Validate and index policy TOML held in memory (``name`` is used in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{name}: not valid TOML: {exc}") from exc
    try:
        model = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(name, exc)) from exc
    return _Indexer(model, name).build()


def _describe(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        lines.append(f"{name}: {loc}: {error['msg']}")
    return "\n".join(lines)


class _Indexer:
    """Cross-checks what pydantic cannot see (references, templates, regexes) and indexes."""

    def __init__(self, model: PolicyFile, name: str) -> None:
        self.model = model
        self.name = name

    def fail(self, field: str, message: str) -> PolicyError:
        return PolicyError(f"{self.name}: {field}: {message}")

    def build(self) -> Policy:
        m = self.model
        rules = {rule_id: self._rule(rule_id, spec) for rule_id, spec in m.rules.items()}
        for rule_id in UNIVERSAL_RULES:
            if rule_id not in rules:
                raise self.fail(f"rules.{rule_id}", "missing: the engine needs this rule")
        for code in PASS_CODES:
            if code not in m.passes:
                raise self.fail(f"passes.{code}", "missing: the engine gives this reason")
            self._template(f"passes.{code}.message", m.passes[code].message, RULE_FIELDS)
        for code in INBOUND_CODES:
            if code not in m.inbound.reasons:
                raise self.fail(f"inbound.reasons.{code}", "missing: inbound messages need it")
            self._template(f"inbound.reasons.{code}.message", m.inbound.reasons[code].message, INBOUND_FIELDS)
        jurisdictions = self._jurisdictions(rules)
        by_country: dict[str, JurisdictionPolicy] = {}
        by_region: dict[tuple[str, str], JurisdictionPolicy] = {}
        for key, spec in m.jurisdictions.items():
            if spec.parent is None:
                for index, country in enumerate(spec.countries):
                    if country in by_country:
                        raise self.fail(
                            f"jurisdictions.{key}.countries.{index}",
                            f"{country} is already covered by {by_country[country].key}",
                        )
                    by_country[country] = jurisdictions[key]
        for key, spec in m.jurisdictions.items():
            if spec.parent is not None and spec.region is not None:
                for country in m.jurisdictions[spec.parent].countries:
                    by_region[(country, spec.region)] = jurisdictions[key]
        keywords, opt_out_keys = self._keywords()
        settings = m.settings
        return Policy(
            version=m.version,
            path=self.name,
            conversation_window=timedelta(hours=settings.conversation_window_hours),
            confirmation_window=timedelta(minutes=settings.opt_out_confirmation_minutes),
            plausible_min_probability=settings.plausible_min_probability,
            tau_promo=settings.tau_promo,
            tau_conf=settings.tau_conf,
            implied_methods=frozenset(settings.implied_methods),
            rules=rules,
            passes={code: spec.message for code, spec in m.passes.items()},
            jurisdictions=jurisdictions,
            by_country=by_country,
            by_region=by_region,
            keywords=keywords,
            opt_out_keys=opt_out_keys,
            revocation_patterns=tuple(
                (lang, self._regex(f"inbound.revocation_patterns.{lang}.{i}", pattern))
                for lang, patterns in m.inbound.revocation_patterns.items()
                for i, pattern in enumerate(patterns)
            ),
            opt_out_content=tuple(
                self._regex(f"content.opt_out_patterns.{i}", pattern)
                for i, pattern in enumerate(m.content.opt_out_patterns)
            ),
            inbound_reasons={
                code: InboundReason(code, spec.message, spec.source)
                for code, spec in m.inbound.reasons.items()
            },
        )

    def _rule(self, rule_id: str, spec: RuleModel) -> Rule:
        self._template(f"rules.{rule_id}.message", spec.message, RULE_FIELDS)
        midnight = datetime.combine(spec.effective_from, time(0), tzinfo=UTC)
        return Rule(rule_id, spec.code, spec.effect, spec.message, spec.source, spec.effective_from, midnight)

    def _template(self, field: str, template: str, allowed: frozenset[str]) -> None:
        try:
            names = [parsed[1] for parsed in string.Formatter().parse(template)]
        except ValueError as exc:
            raise self.fail(field, f"bad template: {exc}") from exc
        for placeholder in names:
            if placeholder is not None and placeholder not in allowed:
                raise self.fail(field, f"unknown placeholder {{{placeholder}}}; use {sorted(allowed)}")

    def _regex(self, field: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.fail(field, f"bad regular expression: {exc}") from exc

    def _ref(self, field: str, rule_id: str, rules: Mapping[str, Rule]) -> Rule:
        if rule_id not in rules:
            raise self.fail(field, f"unknown rule {rule_id!r}")
        return rules[rule_id]

    def _jurisdictions(self, rules: Mapping[str, Rule]) -> dict[str, JurisdictionPolicy]:
        specs = self.model.jurisdictions
        if DEFAULT_KEY not in specs:
            raise self.fail(f"jurisdictions.{DEFAULT_KEY}", "missing: unknown countries need it")
        default = specs[DEFAULT_KEY]
        if default.countries or default.parent or default.region:
            raise self.fail(f"jurisdictions.{DEFAULT_KEY}", "takes no countries, parent or region")
        built: dict[str, JurisdictionPolicy] = {}
        # Parents first, so a state can merge its parent's rules in.
        for key in sorted(specs, key=lambda k: specs[k].parent is not None):
            spec = specs[key]
            field = f"jurisdictions.{key}"
            parent: JurisdictionPolicy | None = None
            if spec.parent is not None:
                if spec.parent not in specs or specs[spec.parent].parent is not None:
                    raise self.fail(f"{field}.parent", f"{spec.parent!r} is not a top-level jurisdiction")
                if spec.region is None:
                    raise self.fail(f"{field}.region", "a state entry needs its region code")
                if spec.countries:
                    raise self.fail(f"{field}.countries", "a state entry takes its parent's")
                parent = built[spec.parent]
            elif spec.region is not None:
                raise self.fail(f"{field}.region", "only an entry with a parent has a region")
            elif key != DEFAULT_KEY and not spec.countries:
                raise self.fail(f"{field}.countries", "a top-level entry needs countries")
            promo = (
                self._promo(f"{field}.promotional_consent", spec.promotional_consent, rules)
                if spec.promotional_consent is not None
                else None
            )
            if promo is None:
                if parent is None:
                    raise self.fail(f"{field}.promotional_consent", "missing (and no parent to inherit from)")
                promo = parent.promotional
            windows = parent.windows if parent else ()
            if spec.quiet_hours is not None:
                windows = (*windows, self._window(f"{field}.quiet_hours", spec.quiet_hours, rules))
            caps = parent.caps if parent else ()
            if spec.frequency_cap is not None:
                cap = spec.frequency_cap
                caps = (
                    *caps,
                    FrequencyCap(
                        self._ref(f"{field}.frequency_cap.rule", cap.rule, rules),
                        cap.max_messages,
                        timedelta(hours=cap.window_hours),
                        frozenset(cap.types),
                    ),
                )
            built[key] = JurisdictionPolicy(key, spec.name, promo, windows, caps)
        return built

    def _promo(self, field: str, spec: PromoConsentModel, rules: Mapping[str, Rule]) -> PromoConsent:
        implied: dict[str, ImpliedBasis] = {}
        for index, basis in enumerate(spec.implied):
            if basis.method not in self.model.settings.implied_methods:
                raise self.fail(
                    f"{field}.implied.{index}.method",
                    f"{basis.method!r} is not one of settings.implied_methods",
                )
            implied[basis.method] = ImpliedBasis(basis.method, basis.valid_months)
        return PromoConsent(
            self._ref(f"{field}.rule", spec.rule, rules),
            frozenset(spec.accepts),
            spec.require_evidence,
            spec.require_program_scope,
            implied,
        )

    def _window(self, field: str, spec: WindowModel, rules: Mapping[str, Rule]) -> TimeWindow:
        weekly = tuple(
            (spec.days[day].start, spec.days[day].end) if day in spec.days else (spec.start, spec.end)
            for day in WEEKDAYS
        )
        return TimeWindow(self._ref(f"{field}.rule", spec.rule, rules), weekly, frozenset(spec.types))

    def _keywords(self) -> tuple[dict[str, tuple[str, str]], frozenset[str]]:
        table: dict[str, tuple[str, str]] = {}
        lists = {
            "opted_out": ("opt_out", self.model.keywords.opt_out),
            "opted_in": ("opt_in", self.model.keywords.opt_in),
            "help": ("help", self.model.keywords.help),
        }
        for action, (field, keywords) in lists.items():
            for index, keyword in enumerate(keywords):
                key = keyword_key(keyword)
                if not key:
                    raise self.fail(f"keywords.{field}.{index}", "has no letters or digits")
                if key in table and table[key][0] != action:
                    raise self.fail(
                        f"keywords.{field}.{index}",
                        f"{keyword!r} is also a keyword for {table[key][0]}",
                    )
                table.setdefault(key, (action, keyword))
        opt_out_keys = frozenset(k for k, (action, _) in table.items() if action == "opted_out")
        return table, opt_out_keys
