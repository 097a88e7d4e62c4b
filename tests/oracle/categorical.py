"""Oracle for categorical model columns and imputation (tests/tests/categorical.rs).

Generates a small telco-like subscriber table (contract, payment method, internet service,
yes/no and 0/1 flags, tenure, charges, with blanks written as " ", "NA", "N/A" and "null"),
a few new subscribers with labels the training never saw, and the expected model matrix
for the preprocess params in categorical.yaml (no winsorizing, no scaling, no cap, so the
matrix is the encoded and imputed values themselves), computed with pandas and
scikit-learn:

- one_hot with `top` against OneHotEncoder(max_categories=top + 1,
  handle_unknown="infrequent_if_exist"); with `categories` and `other: false` against
  OneHotEncoder(categories=..., handle_unknown="ignore"); without `top` or `categories`
  (a column per label) against pandas.get_dummies;
- binary against the lower-cased label equal to "yes" / "1";
- imputation against SimpleImputer (most_frequent, median, mean, constant 0) and
  MissingIndicator.

Run from the repository root: python3 tests/oracle/categorical.py
"""

import json
import platform
import random

import sklearn

import numpy as np
import pandas as pd
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import OneHotEncoder

HERE = "tests/oracle/"
rng = random.Random(14)

CONTRACTS = ["Month-to-month", "One year", "Two year"]
PAYMENTS = ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
INTERNET = ["DSL", "Fiber optic", "No"]


def subscriber(blank_rate):
    tenure = rng.choice([0, 0] + list(range(1, 72)))
    monthly = round(rng.uniform(18, 118), 2)
    row = {
        "contract": rng.choices(CONTRACTS, [0.55, 0.25, 0.2])[0],
        "payment": rng.choices(PAYMENTS, [0.4, 0.25, 0.2, 0.15])[0],
        "internet": rng.choices(INTERNET, [0.35, 0.45, 0.2])[0],
        "paperless": rng.choice(["Yes", "No", "yes"]),
        "senior": rng.choices([0, 1], [0.8, 0.2])[0],
        "tenure": tenure,
        "monthly_charges": monthly,
        # New customers have no total yet: the telco export writes a single space.
        "total_charges": None if tenure == 0 else round(monthly * tenure, 2),
        "age": rng.randint(19, 80),
    }
    for column in ["contract", "internet", "monthly_charges", "age"]:
        if rng.random() < blank_rate:
            row[column] = None
    return row


rows = [subscriber(0.08) for _ in range(80)]
# The blank spellings each column uses in the file.
BLANK = {"contract": "", "internet": "NA", "monthly_charges": "null", "age": "N/A", "total_charges": " "}


def write(path, table):
    with open(path, "w") as f:
        f.write(",".join(table[0].keys()) + "\n")
        for r in table:
            cells = []
            for k, v in r.items():
                cells.append(BLANK[k] if v is None else str(v))
            f.write(",".join(cells) + "\n")


write(HERE + "categorical_input.csv", rows)

# New subscribers: labels no training row has, counted by assign.
new = [subscriber(0.0) for _ in range(6)]
new[0]["payment"] = "Crypto wallet"
new[1]["payment"] = "Cash"
new[2]["contract"] = "Three year"
new[3]["internet"] = "Satellite"
write(HERE + "categorical_new.csv", new)

df = pd.DataFrame(rows)
expected = pd.DataFrame({"row_id": [f"{i + 1:06d}" for i in range(len(df))]})


def most_frequent_filled(column):
    imputer = SimpleImputer(strategy="most_frequent")
    return imputer.fit_transform(df[[column]].astype(object).where(df[[column]].notna(), np.nan))[:, 0]


# contract: explicit categories, no `other`; blanks take the most frequent label.
contract = most_frequent_filled("contract").reshape(-1, 1)
enc = OneHotEncoder(categories=[CONTRACTS], handle_unknown="ignore", sparse_output=False)
for name, values in zip(["contract_month_to_month", "contract_one_year", "contract_two_year"],
                        enc.fit_transform(contract).T):
    expected[name] = values

# payment: the two most frequent categories, the rest in `payment_other`.
enc = OneHotEncoder(max_categories=3, handle_unknown="infrequent_if_exist", sparse_output=False)
payment = enc.fit_transform(df[["payment"]])
names = [n.replace("payment_", "") for n in enc.get_feature_names_out(["payment"])]
sanitized = {"Electronic check": "electronic_check", "Mailed check": "mailed_check",
             "Bank transfer (automatic)": "bank_transfer_automatic",
             "Credit card (automatic)": "credit_card_automatic", "infrequent_sklearn": "other"}
for name, values in zip(names, payment.T):
    expected["payment_" + sanitized[name]] = values

# internet: one_hot without `top`, a column per label (no `other`), blanks ("NA") most frequent.
internet = pd.get_dummies(pd.Series(most_frequent_filled("internet")), dtype=float)
for label in internet.columns:
    expected["internet_" + {"DSL": "dsl", "Fiber optic": "fiber_optic", "No": "no"}[label]] = internet[label]

expected["paperless"] = (df["paperless"].str.lower() == "yes").astype(float)
expected["senior"] = (df["senior"].astype(str) == "1").astype(float)
expected["tenure"] = df["tenure"].astype(float)
expected["monthly_charges"] = SimpleImputer(strategy="median").fit_transform(df[["monthly_charges"]])[:, 0]
expected["total_charges"] = SimpleImputer(strategy="constant", fill_value=0).fit_transform(df[["total_charges"]])[:, 0]
expected["total_charges_missing"] = MissingIndicator(features="all").fit_transform(df[["total_charges"]])[:, 0].astype(float)
expected["age"] = SimpleImputer(strategy="mean").fit_transform(df[["age"]])[:, 0]
expected.to_csv(HERE + "categorical_expected.csv", index=False, float_format="%.17g")

# What each column imputed, and the labels of the new rows training never saw.
imputed = {c: int(df[c].isna().sum()) for c in ["contract", "internet", "monthly_charges", "total_charges", "age"]}
seen = {c: set(df[c].dropna()) for c in ["contract", "payment", "internet"]}
unseen = {c: sum(r[c] not in seen[c] for r in new) for c in seen}
with open(HERE + "categorical_counts.json", "w") as f:
    json.dump({"imputed": imputed, "unseen": unseen, "rows": len(df), "new_rows": len(new)}, f, indent=1, sort_keys=True)
    f.write("\n")
with open(HERE + "categorical.versions", "w") as f:
    f.write(f"python {platform.python_version()}\npandas {pd.__version__}\nnumpy {np.__version__}\n"
            f"scikit-learn {sklearn.__version__}\n")
