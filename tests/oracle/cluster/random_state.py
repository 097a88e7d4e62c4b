"""Reference draws of numpy's legacy RandomState, for segflow's MT19937 port.

For a few seeds (numpy accepts 0..2**32-1) it records raw 32-bit outputs (1,500: past
two regenerations of the 624-word state), random_sample, uniform, randint over ranges that take 32- and 64-bit draws, and
choice with p, each from a fresh RandomState(seed), and writes random_state.json beside
this file. Floats are stored as the integers of their IEEE-754 bits, so no decimal parser
can round them. Run from the repository root:

    python3 tests/oracle/cluster/random_state.py
"""

import json
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).with_name("random_state.json")
SEEDS = [0, 1, 42, 12345, 2**32 - 1]
RANDINT_RANGES = [(0, 1), (0, 2), (0, 7), (-5, 1000), (0, 2091), (0, 2**32), (-(2**40), 2**40 + 3)]


def bits(a):
    return [int(b) for b in np.asarray(a, dtype=np.float64).view(np.uint64)]


def cases(seed):
    raw = np.random.RandomState(seed).randint(0, 2**32, size=1500, dtype=np.uint32)
    sample = np.random.RandomState(seed).random_sample(700)
    uniform = np.random.RandomState(seed).uniform(-2.5, 3.0, size=50)
    randint = {}
    for low, high in RANDINT_RANGES:
        r = np.random.RandomState(seed)
        randint[f"{low},{high}"] = [int(r.randint(low, high)) for _ in range(200)]
    # choice with p, as k-means++ picks its first centre (uniform weights), and with
    # uneven weights; one RandomState, 300 successive scalar draws each.
    p_even = np.ones(2091) / np.ones(2091).sum()
    p_uneven = np.arange(1, 18, dtype=np.float64) ** 2
    p_uneven /= p_uneven.sum()
    r = np.random.RandomState(seed)
    choice_even = [int(r.choice(2091, p=p_even)) for _ in range(300)]
    r = np.random.RandomState(seed)
    choice_uneven = [int(r.choice(17, p=p_uneven)) for _ in range(300)]
    return {
        "seed": seed,
        "next_u32": [int(v) for v in raw],
        "random_sample_bits": bits(sample),
        "uniform_-2.5_3_bits": bits(uniform),
        "randint": randint,
        "choice_even_2091": choice_even,
        "choice_uneven_p_bits": bits(p_uneven),
        "choice_uneven": choice_uneven,
    }


fixture = {"numpy": np.__version__, "cases": [cases(s) for s in SEEDS]}
OUT.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
