"""The declarative registry of training sources: where, how read, how labelled, whose.

Adding a corpus means adding one ``Source`` here; nothing else in the pipeline names one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import pandas as pd

from model.labels import CONVERSATIONAL, EXCLUDE, LABELS, PROMOTIONAL, TRANSACTIONAL
from model.settings import REPO_ROOT, Settings
from training import readers

Reader = Callable[[Path], pd.DataFrame]
Origin = Literal["corpus", "seed", "user"]

_IDENTITY = MappingProxyType({label: label for label in (*LABELS, EXCLUDE)})


@dataclass(frozen=True)
class Source:
    name: str
    path: Path
    reader: Reader
    label_map: Mapping[str, str]
    licence: str
    provenance: str
    origin: Origin
    # Problems that are known defects of a public corpus: such rows are dropped and
    # counted. Anything else, and everything in our own or a user's files, is an error.
    tolerated: frozenset[str] = frozenset()
    max_rows: int | None = None
    # Relative influence in the loss; the seed set is small but the only non-bank
    # transactional text, so it counts more than one row each.
    weight: float = 1.0
    # Sources split over several files share a family; per-source scores and the
    # leave-one-source-out table count families.
    family: str = ""
    # The file's own names for the text and label columns, used in error messages.
    text_column: str = "text"
    label_column: str = "label"

    @property
    def group_name(self) -> str:
        return self.family or self.name

    def describe(self) -> dict[str, str | float | int | None]:
        return {
            "name": self.name,
            "family": self.group_name,
            "path": str(self.path),
            "licence": self.licence,
            "provenance": self.provenance,
            "origin": self.origin,
            "weight": self.weight,
            "max_rows": self.max_rows,
        }


SEED_DIR = REPO_ROOT / "data" / "seed"


def corpus_sources(settings: Settings) -> list[Source]:
    root = settings.corpora_dir
    return [
        Source(
            name="uci-sms-spam",
            path=root / "uci-sms-spam" / "SMSSpamCollection",
            reader=readers.uci_sms_spam,
            label_map={"ham": CONVERSATIONAL, "spam": PROMOTIONAL},
            text_column="2 (text)",
            label_column="1 (label)",
            licence="CC BY 4.0",
            provenance="UCI SMS Spam Collection v.1 (Almeida et al. 2011), doi:10.24432/C5CC84",
            origin="corpus",
        ),
        Source(
            name="nus-sms",
            path=root / "nus-sms" / "clean_nus_sms.csv",
            reader=readers.nus_sms,
            label_map={"p2p_sms": CONVERSATIONAL},
            text_column="Message",
            licence="NUS research use (terms not stated in the copy)",
            provenance="NUS SMS Corpus (Chen & Kan 2013), Codecademy-cleaned CSV",
            origin="corpus",
            tolerated=frozenset({"empty_text"}),
            max_rows=settings.nus_max_rows,
        ),
        Source(
            name="indian-bank-sms",
            path=root / "indian-bank-sms" / "SMS-DATA-cleaned.csv",
            reader=readers.indian_bank_sms,
            label_map=_IDENTITY,
            licence="MIT (app repository); data provenance unknown",
            provenance="Amisha967/smartex-app SMS-DATA-cleaned.csv with shared hand labels",
            origin="corpus",
        ),
        Source(
            name="twcs-dev",
            path=root / "twcs-dev" / "twcs_brand_replies_dev.csv",
            reader=readers.twcs_replies,
            label_map=_IDENTITY,
            licence="CC BY-NC-SA 4.0 (research and evaluation)",
            provenance="Customer Support on Twitter (Kaggle 2017), brand replies, hand labelled",
            origin="corpus",
        ),
    ]


def _seed_family(path: Path) -> str:
    # Each writing batch is its own family ("seed", "seed-2", ...), so leaving one batch
    # out measures how the model does on messages written by other hands.
    _, _, batch = path.stem.rpartition("_")
    return f"seed-{batch}" if batch.isdigit() else "seed"


def seed_sources() -> list[Source]:
    return [
        Source(
            name=f"seed/{path.name}",
            family=_seed_family(path),
            path=path,
            reader=readers.labelled_csv,
            label_map=_IDENTITY,
            licence="Apache-2.0 (authored for this repository)",
            provenance="hand-written by the sendgate team; see data/cards/seed.md",
            origin="seed",
            weight=6.0,
        )
        for path in sorted(SEED_DIR.glob("*.csv"))
    ]


def user_source(path: Path, name: str | None = None, weight: float = 1.0) -> Source:
    """A CSV a user brings (``text,label`` header), e.g. a review export."""
    return Source(
        name=name or f"user:{path.name}",
        path=path.expanduser().resolve(),
        reader=readers.labelled_csv,
        label_map=_IDENTITY,
        licence="supplied by the user",
        provenance=f"file {path}",
        origin="user",
        weight=weight,
    )


def default_sources(settings: Settings, *, include_corpora: bool = True) -> list[Source]:
    sources = seed_sources()
    if include_corpora:
        sources = corpus_sources(settings) + sources
    return sources


__all__ = [
    "CONVERSATIONAL",
    "EXCLUDE",
    "PROMOTIONAL",
    "TRANSACTIONAL",
    "Source",
    "corpus_sources",
    "default_sources",
    "seed_sources",
    "user_source",
]
