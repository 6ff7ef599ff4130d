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


def benjamini_hochberg(p_values: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """BH-adjusted q-values (monotone, capped at 1). ``n_tests`` counts hypotheses tested but not passed in (their
    p-values are at least as large as every one given), e.g. every plate seen when only candidates are scored."""
    n = len(p_values)
    if n == 0:
        return p_values
    total = max(n, n_tests or n)
    order = np.argsort(p_values)
    ranked = p_values[order] * total / np.arange(1, n + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def poisson_tail(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(X >= observed) for X ~ Poisson(expected): how surprising a count is by chance (1 when observed <= 0)."""
    from scipy.stats import poisson

    observed = np.asarray(observed, dtype=float)
    expected = np.maximum(np.asarray(expected, dtype=float), 1e-12)
    return np.where(observed <= 0, 1.0, poisson.sf(observed - 1, expected))


def space_time_clusters(x: np.ndarray, y: np.ndarray, start: np.ndarray, end: np.ndarray, distance: float,
                        gap: float) -> np.ndarray:  # fmt: skip
    """Single-linkage clusters of events: two events join when within ``distance`` (metres) and their time windows
    [start, end] come within ``gap`` (seconds) of each other. Returns a cluster number per event (0, 1, ...).

    A grid of ``distance`` squares limits the comparisons to neighbouring cells, so the cost grows with the events
    times their local density, not with the square of all events.
    """
    n = len(x)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    cells: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        cells.setdefault((int(x[i] // distance), int(y[i] // distance)), []).append(i)
    for (cx, cy), members in cells.items():
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in cells.get((cx + dx, cy + dy), ())]
        for i in members:
            for j in near:
                if j <= i:
                    continue
                close = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 <= distance**2
                overlapping = start[j] <= end[i] + gap and start[i] <= end[j] + gap
                if close and overlapping:
                    ri, rj = root(i), root(j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([root(i) for i in range(n)], dtype=np.int64)
    _, numbers = np.unique(roots, return_inverse=True)
    return numbers.astype(np.int64)
