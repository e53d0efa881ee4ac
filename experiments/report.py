"""results/REPORT.md, rebuilt from what is on disk: one row per claim."""
from __future__ import annotations

import os
from pathlib import Path

from experiments import registry, results


def claim_rows() -> list[dict]:
    rows = []
    for name in registry.names():
        run_dir = results.latest_run(name)
        if run_dir is None:
            rows.append({"experiment": name, "key": f"{name}.*", "text": "(no saved run)",
                         "paper": "", "ours": "", "diff": "", "tolerance": "", "result": "FAIL",
                         "run": "", "point": ""})
            continue
        cfg, df = results.load_run(run_dir)
        for claim in registry.get(name).claims(df):
            row = claim.as_row()
            row["run"] = str(run_dir.relative_to(results.results_dir()))
            rows.append(row)
    return rows


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(out: str | None = None) -> Path:
    rows = claim_rows()
    path = Path(out) if out else results.results_dir() / "REPORT.md"
    lines = ["# WireCAP reproduction report", "",
             f"{sum(r['result'] == 'PASS' for r in rows)} of {len(rows)} claims pass.", "",
             "| claim | paper | ours | difference | tolerance | result | run |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        point = f" ({r['point']})" if r.get("point") else ""
        lines.append(f"| {_cell(r['text'] + point)} | {_cell(r['paper'])} | {_cell(r['ours'])} | "
                     f"{_cell(r['diff'])} | {_cell(r['tolerance'])} | {r['result']} | {_cell(r['run'])} |")
    lines += ["", "## Figures", ""]
    for name in registry.names():
        run_dir = results.latest_run(name)
        if run_dir is None:
            continue
        mod = registry.get(name)
        fig = run_dir / f"{name}.png"
        if fig.exists():
            lines += [f"### {name}: {mod.TITLE}", "", f"![{name}]({os.path.relpath(fig, path.parent)})", ""]
    results._atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))
    return path
