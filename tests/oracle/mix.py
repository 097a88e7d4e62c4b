"""Oracle for the per-segment mixes of context columns (tests/tests/mix.rs).

Generates a subscriber table with three planted groups that sit far apart on two model
columns (x, y), so k-means at K = 3 finds exactly them, and context columns of every kind a
mix is made for: a Yes/No outcome with blanks (`churned`), a plan with eleven labels and
blanks (`plan`, more than the 8 named by default), a 0/1 number (`promo`), true/false text
(`senior`), and a number that is no 0/1 column (`tenure`, described by the profile only).

The expected mix is computed from the planted groups with pandas alone: segments numbered by
decreasing size, a category per label with blanks as "(missing)", labels beyond the 8 most
frequent overall (ties by label) as "(other)", each segment's shares by
pd.crosstab(normalize="index"), everyone's by value_counts(normalize=True), and the flagged
cell as the one furthest from everyone's share (a yes/no column on its rate only; the first
such cell on a tie).

Run from the repository root: python3 tests/oracle/mix.py
"""

import platform

import numpy as np
import pandas as pd

HERE = "tests/oracle/"
TOP = 8
MISSING, OTHER = "(missing)", "(other)"
rng = np.random.default_rng(14)

SIZES = {"a": 70, "b": 45, "c": 25}
CENTRES = {"a": (0.0, 0.0), "b": (10.0, 0.0), "c": (0.0, 10.0)}
CHURN = {"a": 0.1, "b": 0.35, "c": 0.7}
PLANS = [f"plan_{c}" for c in "klmnopqrstu"]
PLAN_WEIGHTS = {
    "a": [30, 20, 12, 9, 7, 6, 5, 4, 3, 2, 2],
    "b": [5, 10, 25, 15, 10, 8, 8, 7, 6, 3, 3],
    "c": [2, 3, 4, 5, 10, 15, 20, 25, 8, 4, 4],
}
PROMO = {"a": 0.2, "b": 0.5, "c": 0.9}
SENIOR = {"a": 0.15, "b": 0.15, "c": 0.6}


def maybe_blank(value, rate):
    return None if rng.random() < rate else value


rows = []
for group, size in SIZES.items():
    cx, cy = CENTRES[group]
    weights = np.array(PLAN_WEIGHTS[group], dtype=float)
    for _ in range(size):
        rows.append(
            {
                "planted": group,
                "x": round(cx + rng.normal(0, 0.5), 4),
                "y": round(cy + rng.normal(0, 0.5), 4),
                "churned": maybe_blank("Yes" if rng.random() < CHURN[group] else "No", 0.06),
                "plan": maybe_blank(str(rng.choice(PLANS, p=weights / weights.sum())), 0.04),
                "promo": int(rng.random() < PROMO[group]),
                "senior": "true" if rng.random() < SENIOR[group] else "false",
                "tenure": int(rng.integers(0, 72)),
            }
        )
table = pd.DataFrame(rows).sample(frac=1.0, random_state=3).reset_index(drop=True)
table.to_csv(HERE + "mix_input.csv", index=False)

# Segments by decreasing size: the planted group of 70 is segment 0.
order = sorted(SIZES, key=lambda g: -SIZES[g])
segment = table["planted"].map({g: i for i, g in enumerate(order)})

BINARY = {"churned": ("Yes", "No"), "promo": ("1", "0"), "senior": ("true", "false")}

expected = []
for column in ["churned", "plan", "promo", "senior"]:
    text = table[column].map(lambda v: None if pd.isna(v) else str(v))
    if column in BINARY:
        named = list(BINARY[column])
    else:
        counts = text.dropna().value_counts()
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        named = [label for label, _ in ranked[:TOP]]
    category = text.map(lambda v: MISSING if pd.isna(v) else (v if v in named else OTHER))
    categories = named + [c for c in [OTHER, MISSING] if (category == c).any()]
    shares = pd.crosstab(segment, category, normalize="index").reindex(columns=categories, fill_value=0.0)
    counts = pd.crosstab(segment, category).reindex(columns=categories, fill_value=0)
    overall = category.value_counts(normalize=True).reindex(categories, fill_value=0.0)
    overall_counts = category.value_counts().reindex(categories, fill_value=0)
    cells = []
    for s in range(len(order)):
        for c in categories:
            cells.append(
                {
                    "cluster": s,
                    "column": column,
                    "category": c,
                    "count": int(counts.loc[s, c]),
                    "size": int(counts.loc[s].sum()),
                    "share": float(shares.loc[s, c]),
                    "overall_count": int(overall_counts[c]),
                    "overall_share": float(overall[c]),
                    "difference": float(shares.loc[s, c]) - float(overall[c]),
                    "rate": column in BINARY and c == categories[0],
                }
            )
    candidates = [cell for cell in cells if column not in BINARY or cell["rate"]]
    furthest = max(abs(cell["difference"]) for cell in candidates)
    flagged = next(cell for cell in candidates if abs(cell["difference"]) == furthest)
    for cell in cells:
        cell["flagged"] = cell is flagged
    expected.extend(cells)

pd.DataFrame(expected).to_csv(HERE + "mix_expected.csv", index=False, float_format=lambda v: repr(float(v)))
with open(HERE + "mix.versions", "w") as f:
    f.write(f"python {platform.python_version()}\npandas {pd.__version__}\nnumpy {np.__version__}\n")
