"""From registered sources to one clean, scrubbed, de-duplicated, grouped frame.

Steps, in order: read, validate, map labels, drop ``exclude``, scrub personal data,
de-duplicate (exact, then normalised template), cap oversized sources, assign groups.
Conflicting labels for one text or template are resolved by origin (a user's correction
beats the seed set, which beats a public corpus), then by majority; exact ties are dropped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from model.labels import EXCLUDE, LABELS
from model.normalize import scrub_pii, template_key
from training.sources import Source
from training.validation import DataValidationError, Issue, check_rows

_PRIORITY = {"user": 0, "seed": 1, "corpus": 2}
FRAME_COLUMNS = ["text", "label", "source", "source_file", "group", "template", "weight", "origin"]


@dataclass
class SourceReport:
    name: str
    family: str
    rows_read: int = 0
    invalid_dropped: int = 0
    excluded: int = 0
    exact_duplicates: int = 0
    template_duplicates: int = 0
    conflicts_dropped: int = 0
    capped: int = 0
    kept: int = 0
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class PreparedData:
    frame: pd.DataFrame
    reports: list[SourceReport]
    sources: list[Source]

    @property
    def digest(self) -> str:
        return frame_digest(self.frame)


def frame_digest(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for text, label, source in sorted(zip(frame["text"], frame["label"], frame["source"], strict=True)):
        digest.update(f"{source}\x1f{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def read_source(source: Source) -> tuple[pd.DataFrame, SourceReport]:
    """Read and validate one source; raise DataValidationError unless every issue is tolerated."""
    raw = source.reader(source.path)
    report = SourceReport(name=source.name, family=source.group_name, rows_read=len(raw))
    allowed = set(source.label_map)
    issues = check_rows(
        source.path,
        raw,
        text_column="text",
        label_column="raw_label",
        allowed_labels=allowed,
        names={"text": source.text_column, "raw_label": source.label_column},
    )
    fatal = [issue for issue in issues if issue.kind not in source.tolerated]
    if fatal:
        raise DataValidationError(fatal)
    if issues:
        bad_rows = {issue.row for issue in issues}
        raw = raw[~raw["row"].isin(bad_rows)]
        report.invalid_dropped = len(bad_rows)
    frame = pd.DataFrame(
        {
            "text": raw["text"].str.strip(),
            "label": raw["raw_label"].str.strip().map(source.label_map),
            "source": source.group_name,
            "source_file": source.name,
            "group": raw["group"].astype(str),
            "weight": source.weight,
            "origin": source.origin,
        }
    )
    # ``exclude`` rows stay until de-duplication so that a reviewer's exclude can
    # override a corpus label for the same text; they are dropped right after.
    frame["capped"] = source.max_rows is not None
    report.excluded = int((frame["label"] == EXCLUDE).sum())
    return frame, report


def _resolve(frame: pd.DataFrame, key: str) -> tuple[pd.DataFrame, Counter[str], Counter[str]]:
    """One row per ``key``; returns kept rows, duplicates and conflicts dropped per source file."""
    frame = frame.assign(_priority=frame["origin"].map(_PRIORITY))
    # Among equals, an uncapped source keeps the row: UCI ham that duplicates NUS stays in
    # UCI, because the NUS copy may later be sampled away by the cap.
    frame = frame.sort_values(["_priority", "capped", "source_file", "text"], kind="stable")
    best = frame.groupby(key, sort=False)["_priority"].transform("min")
    top = frame[frame["_priority"] == best]
    counts = top.groupby([key, "label"], sort=False).size().rename("n").reset_index()
    counts["max"] = counts.groupby(key)["n"].transform("max")
    winners = counts[counts["n"] == counts["max"]]
    ties = winners.groupby(key)["label"].transform("size") > 1
    winner_label = winners[~ties].set_index(key)["label"]
    chosen = frame[key].map(winner_label)
    keep_mask = frame["label"].eq(chosen) & ~frame.duplicated(subset=[key, "label"])
    keep_mask &= frame["_priority"].eq(best)
    conflicted_keys = set(winners.loc[ties, key])
    conflicts = Counter(frame.loc[frame[key].isin(conflicted_keys), "source_file"])
    duplicates = Counter(frame.loc[~keep_mask & ~frame[key].isin(conflicted_keys), "source_file"])
    return frame[keep_mask].drop(columns="_priority"), duplicates, conflicts


def prepare(
    sources: Sequence[Source],
    *,
    seed: int,
    max_rows: dict[str, int] | None = None,
    progress: Callable[[str], Any] | None = None,
) -> PreparedData:
    frames: list[pd.DataFrame] = []
    reports: dict[str, SourceReport] = {}
    issues: list[Issue] = []
    for source in sources:
        if progress:
            progress(f"reading {source.name}")
        try:
            frame, report = read_source(source)
        except DataValidationError as exc:
            issues.extend(exc.issues)
            continue
        frames.append(frame)
        reports[source.name] = report
    if issues:
        raise DataValidationError(issues)
    if progress:
        progress("scrubbing personal data and de-duplicating")
    data = pd.concat(frames, ignore_index=True)
    data["text"] = [scrub_pii(text) for text in data["text"]]
    data["exact"] = data["text"].str.lower().str.split().str.join(" ")
    data, exact_dups, exact_conflicts = _resolve(data, "exact")
    data["template"] = [template_key(text) for text in data["text"]]
    data, template_dups, template_conflicts = _resolve(data, "template")
    data = data[data["label"] != EXCLUDE]
    caps = dict(max_rows or {})
    for source in sources:
        if source.max_rows is not None:
            caps.setdefault(source.name, source.max_rows)
    capped: Counter[str] = Counter()
    for name, cap in caps.items():
        rows = data.index[data["source_file"] == name]
        if len(rows) > cap:
            drop = data.loc[rows].sample(n=len(rows) - cap, random_state=seed).index
            capped[name] = len(drop)
            data = data.drop(index=drop)
    # A source's own template ids win; otherwise the normalised template is the group.
    data["group"] = [
        group if group else "t:" + hashlib.sha1(template.encode()).hexdigest()[:16]
        for group, template in zip(data["group"], data["template"], strict=True)
    ]
    data = data[FRAME_COLUMNS].reset_index(drop=True)
    for name, report in reports.items():
        report.exact_duplicates = exact_dups[name]
        report.template_duplicates = template_dups[name]
        report.conflicts_dropped = exact_conflicts[name] + template_conflicts[name]
        report.capped = capped[name]
        mine = data[data["source_file"] == name]
        report.kept = len(mine)
        report.labels = {label: int((mine["label"] == label).sum()) for label in LABELS}
    return PreparedData(frame=data, reports=list(reports.values()), sources=list(sources))
