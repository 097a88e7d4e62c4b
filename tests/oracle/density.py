"""The PCA density grid, computed by numpy: seeded points in three overlapping segments,
counted with numpy.histogram2d over a fixed range in 60 x 36 cells, each occupied cell with
its count and its most common segment (ties to the lowest id, as argmax picks the first).
Writes density.json beside this script.
"""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GRID = (60, 36)
X_RANGE = (-4.0, 6.0)
Y_RANGE = (-3.0, 3.0)


def main():
    rng = np.random.default_rng(15)
    centres = [(-1.5, 0.0), (1.0, 1.0), (3.0, -0.5)]
    spreads = [0.9, 1.2, 0.7]
    sizes = [1000, 700, 300]
    x, y, segment = [], [], []
    for s, ((cx, cy), sd, n) in enumerate(zip(centres, spreads, sizes)):
        x.extend(rng.normal(cx, sd, n).clip(X_RANGE[0] + 1e-9, X_RANGE[1] - 1e-9))
        y.extend(rng.normal(cy, sd, n).clip(Y_RANGE[0] + 1e-9, Y_RANGE[1] - 1e-9))
        segment.extend([s] * n)
    x, y, segment = np.array(x), np.array(y), np.array(segment)
    per_segment = np.stack(
        [
            np.histogram2d(x[segment == s], y[segment == s], bins=GRID, range=[X_RANGE, Y_RANGE])[0]
            for s in range(len(sizes))
        ]
    )
    total = per_segment.sum(axis=0)
    majority = per_segment.argmax(axis=0)
    cells = [
        {"at": [int(i), int(j)], "count": int(total[i, j]), "segment": int(majority[i, j])}
        for j in range(GRID[1])
        for i in range(GRID[0])
        if total[i, j] > 0
    ]
    out = {
        "grid": list(GRID),
        "x_range": list(X_RANGE),
        "y_range": list(Y_RANGE),
        "points": [[float(a), float(b), int(s)] for a, b, s in zip(x, y, segment)],
        "cells": cells,
        "versions": {"numpy": np.__version__},
    }
    (HERE / "density.json").write_text(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
