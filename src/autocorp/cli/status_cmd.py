"""`autocorp status`: the whole pipeline at a glance — slot health and every curated table's lag."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from autocorp.cli import context
from autocorp.cli.output import emit, kv, out, table
from autocorp.lake import layout
from autocorp.pipeline import LakeStatus


def register(app: typer.Typer) -> None:
    """Add the top-level `status` command to `app`."""
    app.command("status")(status)


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON on stdout.")] = False,
) -> None:
    """Per table: Delta version, rows, committed LSN, lag behind the source (bytes, seconds), last run."""
    c = context.get(ctx)
    if as_json:
        c.as_json = True
    st = c.pipeline().status()
    emit(c, _as_dict(st), lambda: _render(st))


def _as_dict(st: LakeStatus) -> dict[str, Any]:
    tables = [{**asdict(t.state), "lsn_text": _lsn(t.state.lsn), "lag_bytes": t.lag_bytes,
               "lag_seconds": t.lag_seconds} for t in st.tables]
    return {"capture": asdict(st.capture), "tables": tables, "last_run": _run_summary(st.last_run)}


def _run_summary(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"finished_at": run["finished_at"], "ok": run["ok"], "seconds": run.get("seconds"),
            "tables": {t["table"]: {"status": t["status"], "error": t["error"]} for t in run.get("tables", [])}}


def _render(st: LakeStatus) -> None:
    cap = st.capture
    kv({"slot": f"{cap.slot} ({'active' if cap.active else 'idle'}, wal_status {cap.wal_status or '-'})"
        if cap.exists else f"{cap.slot}: missing — run `autocorp capture`",
        "raw zone checkpoint": f"{cap.checkpoint_lsn or '-'} (last commit {cap.last_commit or '-'})",
        "source WAL": cap.current_wal_lsn or "-"})
    run = _run_summary(st.last_run)
    outcomes = run["tables"] if run else {}
    rows = []
    for t in st.tables:
        s = t.state
        last = outcomes.get(s.table, {})
        rows.append((s.table, _dash(s.version), _dash(s.rows), _lsn(s.lsn), _dash(t.lag_bytes),
                     _dash(t.lag_seconds), s.pending_files, last.get("status", "-")))
    table("curated tables", ["table", "version", "rows", "lsn", "lag bytes", "lag s", "pending files", "last run"],
          rows)
    if run:
        out.print(f"last curate run: {run['finished_at']} — {'ok' if run['ok'] else 'FAILED'}")
        for name, o in outcomes.items():
            if o.get("error"):
                out.print(f"  [red]{name}[/red]: {o['error']}")


def _dash(value: object) -> object:
    return "-" if value is None else value


def _lsn(value: int | None) -> str:
    return "-" if value is None else layout.lsn_to_str(value)
