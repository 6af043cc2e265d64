"""Exactly-once under crashes: before the write, after data files but before the commit, after the commit, kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from test_curate_rawzone import RawZone, Reference, item, make_curate

from autocorp.curate.runner import Curate
from autocorp.lake import layout

COLS = ["id", "name", "note", "price"]


class Crash(Exception):
    """Stands in for the process dying at a hook point."""


def build_stream(zone: RawZone, ref: Reference, files: int, seed: int = 3, load: bool = True) -> None:
    rng = random.Random(seed)
    if load:
        base = [item(i) for i in range(1, 201)]
        zone.load("items", base)
        ref.load(base)
    for _ in range(files):
        txns = []
        for _ in range(rng.randint(1, 3)):
            txn = []
            for _ in range(rng.randint(1, 6)):
                k = rng.randint(1, 260)
                if rng.random() < 0.2:
                    txn.append(("D", {"id": k}))
                else:
                    price = f"{rng.randint(1, 9)}.25"
                    txn.append(("U" if k in ref.rows else "I", item(k, rng.choice("xyz"), price=price)))
            txns.append(txn)
        zone.cdc("items", txns)
        ref.apply(txns)
    zone.checkpoint()


def curated_rows(curate: Curate) -> list[tuple]:
    t = DeltaTable(curate.storage.uri(layout.curated_table("items"))).to_pyarrow_table()
    return sorted(tuple(r[c] for c in COLS) for r in t.to_pylist())


def assert_exactly_once(curate: Curate) -> None:
    """Every raw file is in exactly one commit; LSN ranges ascend; each commit's txn is its lsn_to."""
    uri = curate.storage.uri(layout.curated_table("items"))
    history = sorted(DeltaTable(uri).history(), key=lambda c: c["version"])
    seen: set[str] = set()
    last_to = -1
    for commit in history:
        if "autocorp.lsn_to" not in commit:
            continue
        files = set(commit["autocorp.raw_files"])
        assert not files & seen, f"raw files applied twice: {files & seen}"
        seen |= files
        assert commit["autocorp.lsn_to"] > last_to or commit["version"] == 0
        last_to = commit["autocorp.lsn_to"]
        at = DeltaTable(uri, version=commit["version"]).transaction_version(curate.app_id("items"))
        assert at == commit["autocorp.lsn_to"]
    raw = {f for f in curate.storage.list_files(layout.raw_table_dir("public", "items"), ".parquet")}
    assert seen == raw, f"raw files never applied: {raw - seen}"


@pytest.mark.parametrize("point", ["before_write", "after_commit"])
@pytest.mark.parametrize("nth", [1, 2, 4])
def test_crash_at_hook_then_rerun(tmp_path: Path, point: str, nth: int) -> None:
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    build_stream(zone, ref, files=8)
    calls = {"n": 0}

    def hook(at: str, table: str) -> None:
        if at == point:
            calls["n"] += 1
            if calls["n"] == nth:
                raise Crash(f"{at} #{nth}")

    crashing = make_curate(tmp_path, batch_max_rows=15)
    crashing = Curate(crashing.settings, hook=hook)
    with pytest.raises(Crash):
        crashing.run_once()
    again = make_curate(tmp_path, batch_max_rows=15)
    assert again.run_once().ok
    assert curated_rows(again) == ref.sorted(COLS)
    assert_exactly_once(again)
    version = DeltaTable(again.storage.uri(layout.curated_table("items"))).version()
    assert again.run_once().tables[0].status == "current"  # nothing left, no empty commit
    assert DeltaTable(again.storage.uri(layout.curated_table("items"))).version() == version


def test_failed_commit_after_data_files_leaves_no_trace(tmp_path: Path) -> None:
    """A commit that fails after its data files were written (here: a competing commit took the
    version) leaves only unreferenced files; the retry re-reads the LSN and applies the batch once."""
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    build_stream(zone, ref, files=4)
    base = make_curate(tmp_path, batch_max_rows=1000)
    uri = base.storage.uri(layout.curated_table("items"))
    state = {"fired": False}

    def hook(at: str, table: str) -> None:
        if at == "before_write" and not state["fired"] and DeltaTable.is_deltatable(uri):
            state["fired"] = True
            DeltaTable(uri).alter.set_table_properties({"delta.checkpointInterval": "50"})

    rep = Curate(base.settings, hook=hook).run_once()
    assert state["fired"] and rep.ok
    assert curated_rows(base) == ref.sorted(COLS)
    assert_exactly_once(base)
    dt = DeltaTable(uri)
    referenced = set()
    for v in range(dt.version() + 1):
        referenced |= {os.path.basename(u) for u in DeltaTable(uri, version=v).file_uris()}
    on_disk = {p.name for p in Path(uri).glob("*.parquet")}
    assert on_disk - referenced, "the failed commit should have left its data files behind"


KILL_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from autocorp.curate.runner import Curate
from test_curate_rawzone import make_curate
settings = make_curate(Path({root!r}), batch_max_rows=12).settings
print("ready", flush=True)  # imports done: the parent's random kill delay starts now
# a short pause at each hook point stretches the run so that most kills land inside it
Curate(settings, hook=lambda at, table: time.sleep(0.02)).run_once()
"""


def test_kill_minus_nine_at_random_moments(tmp_path: Path) -> None:
    """Capture keeps writing while curate is killed at random moments, 10 times; then it catches up exactly."""
    zone, ref = RawZone(tmp_path / "lake"), Reference()
    zone.define("items")
    build_stream(zone, ref, files=10, seed=11)
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    rng = random.Random(5)
    lsns = []
    for round_ in range(10):
        build_stream(zone, ref, files=25, seed=round_, load=False)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.1, 0.8))  # measured from the end of the imports, whatever the machine's load
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lsns.append((make_curate(tmp_path).table_lsn("items"), zone.lsn))
    print("(committed LSN, source LSN) after each kill:", lsns)
    final = make_curate(tmp_path, batch_max_rows=12)
    assert final.run_once().ok
    assert curated_rows(final) == ref.sorted(COLS)
    assert_exactly_once(final)
    mid_run = [(got, src) for got, src in lsns if got is not None and got < src]
    assert len(mid_run) >= 5, f"kills rarely landed mid-run: {lsns}"
