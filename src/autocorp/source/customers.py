"""The 1.2M-row customer file, built column-wise from Faker pools, with planted duplicate emails.

Why the default load ends with exactly 1,149 customers (the design's number): the loader takes
the seeded sample ``seedfiles.sample_indices(n, sample, seed)`` of the file's records, keeps the
first row of each email and skips later ones as duplicates. The generator draws the same sample
and plants exactly **one** duplicate-email pair inside it (the later row re-uses the earlier
row's name and email, as a customer who registered twice would), so 1,150 sampled rows give
1,149 customers. A few more duplicate pairs are planted outside the sample, so the full file
holds "a few duplicates on purpose" without changing that count. Every other email is unique by
construction: it ends in a per-row number drawn from a permutation of ``1..n``.

The sample also covers all 59 state codes (the design's "59 different states"): 59 sampled rows,
not the skipped duplicate, get one code each; every other row draws a population-weighted state.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from autocorp.source.pools import EMAIL_DOMAINS, STATE_CODES, STATE_WEIGHTS, build_person_pools
from autocorp.source.seedfiles import sample_indices

EXTRA_DUPLICATE_PAIRS = 12  # planted outside the sample
# email local part: first.last, f + last, first_last, firstlast (then the row's number)
_EMAIL_STYLES = np.array([0.45, 0.25, 0.15, 0.15])
_SEPARATORS = pa.array([".", "", "_", ""])


def build_customers(rng: np.random.Generator, seed: int, n: int, sample: int) -> pa.Table:
    """``n`` customers (first_name, last_name, email, phone, street, city, state, zip) as strings.

    ``seed`` seeds the Faker pools and the sample; ``rng`` draws everything else.
    """
    pools = build_person_pools(seed)
    picked = sample_indices(n, sample, seed)
    source, forced = plant_duplicates(rng, n, picked)
    first_i = rng.integers(0, len(pools.first_names), n)[source]
    last_i = rng.integers(0, len(pools.last_names), n)[source]
    email = _emails(rng, pools.first_local, pools.last_local, first_i, last_i, source)
    states = rng.choice(len(STATE_CODES), n, p=_weights(STATE_WEIGHTS))
    if len(forced):
        states[forced] = rng.permutation(len(STATE_CODES))[: len(forced)]
    return pa.table({
        "first_name": pa.array(pools.first_names).take(pa.array(first_i)),
        "last_name": pa.array(pools.last_names).take(pa.array(last_i)),
        "email": email,
        "phone": pc.binary_join_element_wise(
            "(", _text(rng.integers(201, 990, n)), ") ", _text(rng.integers(200, 1000, n)), "-",
            pc.utf8_lpad(_text(rng.integers(0, 10_000, n)), 4, "0"), ""),
        "street": pc.binary_join_element_wise(
            _text(rng.integers(1, 10_000, n)), pa.array(pools.streets).take(pa.array(rng.integers(
                0, len(pools.streets), n))), " "),
        "city": pa.array(pools.cities).take(pa.array(rng.integers(0, len(pools.cities), n))),
        "state": pa.array(STATE_CODES).take(pa.array(states)),
        "zip": pc.utf8_lpad(_text(rng.integers(1001, 99951, n)), 5, "0"),
    })


def plant_duplicates(rng: np.random.Generator, n: int, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Choose the duplicate pairs; return (source row of each row's identity, rows forced to a state).

    ``source[j] = i`` makes row ``j`` repeat row ``i``'s name and email. Exactly one pair lies
    inside ``picked`` (the sample) with ``i < j``, so the loader keeps ``i`` and skips ``j``; the
    extra pairs lie wholly outside it. The forced-state rows are sampled rows other than ``j``.
    """
    source = np.arange(n, dtype=np.int64)
    if len(picked) < 2:
        return source, picked
    shuffled = rng.permutation(picked)
    keep, dup = int(min(shuffled[:2])), int(max(shuffled[:2]))
    source[dup] = keep
    outside = np.setdiff1d(np.arange(n, dtype=np.int64), picked, assume_unique=True)
    pairs = min(EXTRA_DUPLICATE_PAIRS, len(outside) // 2)
    if pairs:
        rows = np.sort(rng.choice(outside, 2 * pairs, replace=False)).reshape(pairs, 2)
        source[rows[:, 1]] = rows[:, 0]
    forced = np.sort(shuffled[shuffled != dup][: len(STATE_CODES)])
    return source, forced


def _emails(
    rng: np.random.Generator, first_local: np.ndarray, last_local: np.ndarray,
    first_i: np.ndarray, last_i: np.ndarray, source: np.ndarray,
) -> pa.ChunkedArray | pa.Array:
    n = len(source)
    style = rng.choice(len(_EMAIL_STYLES), n, p=_EMAIL_STYLES)[source]
    number = (rng.permutation(n) + 1)[source]
    domain = rng.choice(len(EMAIL_DOMAINS), n, p=_weights(EMAIL_DOMAINS))[source]
    first = pa.array(first_local).take(pa.array(first_i))
    first = pc.if_else(pa.array(style == 1), pc.utf8_slice_codeunits(first, 0, 1), first)
    local = pc.binary_join_element_wise(
        first, _SEPARATORS.take(pa.array(style)), pa.array(last_local).take(pa.array(last_i)),
        _text(number), "")
    return pc.binary_join_element_wise(local, pa.array(list(EMAIL_DOMAINS)).take(pa.array(domain)), "@")


def _weights(table: dict[str, float]) -> np.ndarray:
    w = np.array(list(table.values()), dtype=np.float64)
    return w / w.sum()


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())
