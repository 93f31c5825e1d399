"""Figures logged with each run: confusion matrix and reliability diagram (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: CI and servers have no display

import matplotlib.pyplot as plt
import numpy as np

from model.labels import LABELS
from training.evaluation import FloatArray, predicted_labels


def confusion_matrix_png(matrix: Sequence[Sequence[int]], path: Path, title: str) -> Path:
    data = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=20)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = data.max() / 2 if data.size else 0
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            ax.text(
                j,
                i,
                str(data[i, j]),
                ha="center",
                va="center",
                color="white" if data[i, j] > threshold else "black",
            )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_png(y_true: Sequence[str], proba: FloatArray, path: Path, bins: int = 10) -> Path:
    confidence = proba.max(axis=1)
    correct = np.array(predicted_labels(proba)) == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    centers, accuracy, counts = [], [], []
    for b in range(bins):
        mask = index == b
        if mask.any():
            centers.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
            counts.append(int(mask.sum()))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(centers, accuracy, marker="o", label="model")
    for x, y, n in zip(centers, accuracy, counts, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7)
    ax.set_xlabel("confidence of top label")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability (test split)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
