"""The value histogram's bins, computed by numpy: for each case, the sample skewness
(m3 / m2**1.5), whether the values are heavy-tailed (all >= 0 and skewness > 2), and the
edges and counts of numpy.histogram over the values, or over log10(1 + value) when they are
heavy-tailed. Writes histogram.json beside this script.

The transform uses Python's math.log10 (the C library's, as segflow's f64::log10 does), so the
comparison tests the binning and the rule, not two log implementations' last bits.

Cases: the Walsoft call durations (read by the test from the committed CSV too), and seeded
synthetic samples written into the JSON: light-tailed, heavy-tailed with zeros, and skewed
with negative values (which stays on a linear scale).
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BINS = 60
HEAVY_TAIL_SKEWNESS = 2.0


def expected(values):
    v = np.asarray(values, dtype=float)
    d = v - v.mean()
    m2, m3 = (d**2).mean(), (d**3).mean()
    skewness = m3 / m2**1.5
    heavy = bool(skewness > HEAVY_TAIL_SKEWNESS and (v >= 0).all())
    axis = np.array([math.log10(1.0 + x) for x in v]) if heavy else v
    counts, edges = np.histogram(axis, bins=BINS)
    return {
        "skewness": float(skewness),
        "scale": "log" if heavy else "linear",
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
    }


def main():
    rng = np.random.default_rng(15)
    walsoft = pd.read_csv(ROOT / "data/walsoft/walsoft_semi_categorized_phone_dataset.csv")
    cases = [
        {
            "name": "walsoft_durations",
            "csv": "data/walsoft/walsoft_semi_categorized_phone_dataset.csv",
            "column": "duration_in_seconds",
            **expected(walsoft["duration_in_seconds"]),
        }
    ]
    synthetic = {
        "light_tailed": rng.normal(100.0, 15.0, 3000).round(3),
        "heavy_tailed_with_zeros": np.concatenate(
            [np.zeros(200), rng.lognormal(3.0, 1.4, 4000).round(0)]
        ),
        "skewed_with_negatives": rng.lognormal(1.0, 1.2, 3000).round(2) - 5.0,
    }
    for name, values in synthetic.items():
        cases.append({"name": name, "values": [float(x) for x in values], **expected(values)})
    versions = {"numpy": np.__version__, "pandas": pd.__version__}
    out = {"bins": BINS, "versions": versions, "cases": cases}
    (HERE / "histogram.json").write_text(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
