"""The statistics the detectors use, one implementation each (the simulator's ground truth uses them too)."""

from __future__ import annotations

import numpy as np


def getis_ord_gi_star(values: np.ndarray, neighbours: list[np.ndarray]) -> np.ndarray:
    """Gi* z-scores with binary weights; ``neighbours[i]`` holds the indices in i's disk, i included."""
    n = len(values)
    if n < 2:
        return np.zeros(n)
    mean = values.mean()
    std = np.sqrt(max((values**2).mean() - mean**2, 0.0))
    if std == 0:
        return np.zeros(n)
    z = np.zeros(n)
    for i, disk in enumerate(neighbours):
        w = float(len(disk))
        denominator = std * np.sqrt(max((n * w - w * w) / (n - 1), 0.0))
        if denominator > 0:
            z[i] = (values[disk].sum() - mean * w) / denominator
    return z


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (monotone, capped at 1)."""
    n = len(p_values)
    if n == 0:
        return p_values
    order = np.argsort(p_values)
    ranked = p_values[order] * n / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q
