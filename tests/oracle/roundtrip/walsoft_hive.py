"""The Walsoft features as an external engine would hand them over: computed by pandas
(tests/oracle/walsoft_features.py → walsoft_features.csv, the contact ids already SHA-256
pseudonyms), written with pyarrow as a Hive-partitioned Parquet dataset, one directory per
first hex character of the id (`id_prefix=0/…`).

tests/tests/roundtrip.rs runs this dataset through a table-mode pipeline with Walsoft's
preprocess, select_k and fit settings (`privacy.id: {method: none}`, the ids kept as they
are) and checks the segments against the all-segflow Walsoft run (ARI 1.0).

    python3 tests/oracle/roundtrip/walsoft_hive.py
"""

import pathlib
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent
OUT = HERE / "walsoft_features"

features = pd.read_csv(HERE.parent / "walsoft_features.csv", dtype={"contact_id": str})
features["id_prefix"] = features["contact_id"].str[0]
if OUT.exists():
    shutil.rmtree(OUT)
pq.write_to_dataset(
    pa.Table.from_pandas(features, preserve_index=False),
    root_path=OUT,
    partition_cols=["id_prefix"],
    basename_template="part-{i}.parquet",
)
print(len(features), "contacts in", len(list(OUT.glob("id_prefix=*"))), "partitions")
