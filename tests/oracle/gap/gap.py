"""The gap statistic (Tibshirani, Walther & Hastie 2001) in numpy, as an oracle for segflow's
`gap` rule of select_k.

Two steps, run from the repository root:

    python3 tests/oracle/gap/gap.py matrix     # writes gap_matrix.json: the data
    SEGFLOW_WRITE_GAP_DRAWS=1 cargo test -p segflow-tests --test gap_oracle
                                               # segflow writes gap_draws.json
    python3 tests/oracle/gap/gap.py expected   # writes gap_expected.json

gap_draws.json holds what segflow drew and fitted: the uniform draws in [0, 1) of each
reference set and the k-means inertias of the data and of every reference set. From those and
the data alone, this script builds the reference sets itself (SVD of the centred data, the
range of X·V per component, uniform in that box, rotated back), computes
Gap(k) = mean_b log W*_kb − log W_k, sd_k (divisor B), s_k = sd_k·√(1 + 1/B), and the 1-SE
choice: the smallest k with Gap(k) ≥ Gap(k+1) − s(k+1). The test compares segflow's
reference sets, Gap, s and choice with these. Rerunning gives byte-identical output.
"""

import json
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).parent


def write(name, value):
    (HERE / name).write_text(json.dumps(value) + "\n")


def matrix():
    """Three separated blobs of 20 points in three dimensions, elongated so the principal
    axes are not the coordinate axes."""
    rng = np.random.default_rng(15)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [1.0, 7.0, 3.0]])
    stretch = np.array([[1.5, 0.3, 0.0], [0.3, 0.8, 0.2], [0.0, 0.2, 0.5]])
    x = np.vstack([c + rng.normal(size=(20, 3)) @ stretch for c in centres])
    write("gap_matrix.json", {"X": x.tolist()})


def svd_flip_rows(vt):
    """Signs as scikit-learn's PCA: the largest-|loading| entry of each axis positive (the
    box does not depend on the signs, but the draws' placement does)."""
    lead = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(vt.shape[0]), lead])
    return vt * signs[:, None]


def expected():
    x = np.array(json.loads((HERE / "gap_matrix.json").read_text())["X"])
    draws = json.loads((HERE / "gap_draws.json").read_text())
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    vt = svd_flip_rows(vt)
    rotated = (x - mean) @ vt.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    sets = [
        (low + np.array(u) * (high - low)) @ vt + mean for u in draws["uniforms"]
    ]
    ks = draws["ks"]
    log_w = np.log(np.array(draws["inertia"]))
    log_ref = np.log(np.array(draws["reference_inertia"]))  # K × B
    b = log_ref.shape[1]
    gap = log_ref.mean(axis=1) - log_w
    sd = log_ref.std(axis=1, ddof=0)
    s = sd * np.sqrt(1.0 + 1.0 / b)
    chosen = next(
        (ks[i] for i in range(len(ks) - 1) if gap[i] >= gap[i + 1] - s[i + 1]), None
    )
    write(
        "gap_expected.json",
        {
            "numpy": np.__version__,
            "ks": ks,
            "reference_sets": [r.tolist() for r in sets],
            "gap": gap.tolist(),
            "sd": sd.tolist(),
            "s": s.tolist(),
            "k": chosen,
        },
    )


if __name__ == "__main__":
    {"matrix": matrix, "expected": expected}[sys.argv[1]]()
