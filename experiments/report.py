"""The reproduction report, rebuilt from what is on disk.

``results/REPORT.md`` and ``results/REPORT.html``:

1. one row per claim of ACCEPTANCE.md (experiments/acceptance.py): the claim,
   the paper's value, ours, the difference, the tolerance, PASS or FAIL, and
   the run it came from. A claim whose experiment has no saved run, or is not
   implemented yet, is a FAIL that says so: the table never hides a claim;
2. checks that experiments make beyond ACCEPTANCE.md;
3. "Beyond the paper": experiments that extend WireCAP (a module with
   ``BEYOND_PAPER = True``, e.g. experiments/offload.py), with their own
   claims stated as ours, never as the paper's, their reading and figure;
4. every figure of the latest runs with a one-line reading of what it shows.

REPORT.html is self-contained: every figure is embedded in it as a ``data:``
URI (base64 PNG, or base64 SVG), so the one file shows everything when it is
copied elsewhere, mailed, or kept after ``invoke clean-results`` deletes the
runs. REPORT.md links the figures by paths relative to itself (Markdown has no
portable way to embed an image): it keeps working when the results folder
moves with it, and loses its figures when the runs are deleted.

Above the table, a note names every run whose recorded package versions
(config.json ``environment.packages``) are not those of requirements.lock,
with both versions: its numbers may differ from a locked install's.

Nothing is recomputed except the claims, which are evaluated on the saved
tables (``claims(df)``), so the report always matches the data next to it.
"""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from experiments import acceptance, lockfile, registry, results
from experiments.claims import Claim

COLUMNS = ("claim", "paper", "ours", "difference", "tolerance", "result", "run")


@dataclass
class RunInfo:
    """The latest complete run of one experiment, and its claims."""

    name: str
    registered: bool
    run_dir: Path | None = None
    meta: dict = field(default_factory=dict)
    df: pd.DataFrame | None = None
    claims: list[Claim] = field(default_factory=list)
    error: str = ""

    @property
    def run_label(self) -> str:
        if self.run_dir is None:
            return ""
        rel = os.path.relpath(self.run_dir, results.results_dir())
        cfg = self.meta.get("config", {})
        tags = [t for t in ("quick" if cfg.get("quick") else "", cfg.get("backend", "sim")) if t]
        return f"{rel} ({', '.join(tags)})"


def _load(name: str) -> RunInfo:
    registered = name in registry.EXPERIMENTS
    info = RunInfo(name, registered)
    if not registered:
        info.error = f"not implemented yet: no experiment {name!r} in experiments/registry.py"
        return info
    # ACCEPTANCE.md's numbers are reproduced on the simulator; a later run on
    # the real backend (other columns, other claims) must not hide them
    info.run_dir = results.latest_run(name, backend="sim")
    if info.run_dir is None:
        info.error = f"no saved run: invoke run-experiment --name {name}"
        return info
    try:
        info.meta, info.df = results.load_run(info.run_dir)
        info.claims = list(registry.get(name).claims(info.df))
    except Exception as exc:  # noqa: BLE001 - the report must build; the row names the failure
        info.error = f"claims() failed on {info.run_label}: {type(exc).__name__}: {exc}"
    return info


def collect() -> dict[str, RunInfo]:
    """Every registered experiment and every experiment ACCEPTANCE.md names."""
    names = list(registry.names())
    for e in acceptance.CATALOGUE:
        names += [n for n in e.experiments if n not in names]
    return {n: _load(n) for n in names}


def _name(c: Claim, entry_id: str) -> str:
    """What distinguishes one of several claims behind an entry: the key past
    the entry's id ("fig8.lossless.DNA" -> "DNA"), else its last part."""
    return c.key[len(entry_id) + 1:] if c.key.startswith(entry_id + ".") else c.key.rsplit(".", 1)[-1]


def _ours(matched: list[Claim], entry_id: str) -> str:
    def one(c: Claim) -> str:
        return c.ours + (f" ({c.point})" if c.point else "")

    if len(matched) == 1:
        return one(matched[0])
    failed = [c for c in matched if not c.passed]
    head = f"{len(matched) - len(failed)}/{len(matched)} checks hold"
    shown = failed or matched
    body = "; ".join(f"{_name(c, entry_id)}: {one(c)}" for c in shown[:4]) + ("; ..." if len(shown) > 4 else "")
    return f"{head}; {'failing: ' if failed else ''}{body}"


def acceptance_rows(infos: dict[str, RunInfo]) -> list[dict]:
    """One row per ACCEPTANCE.md claim, in the document's order."""
    rows = []
    for e in acceptance.CATALOGUE:
        matched, runs, problems = [], [], []
        for name in e.experiments:
            info = infos[name]
            if info.error:
                problems.append(info.error)
                continue
            hits = [c for c in info.claims if e.matches(c.key)]
            if hits:
                matched += hits
                runs.append(info.run_label)
            else:
                problems.append(f"{info.run_label} checks no claim with key {' or '.join(e.patterns)}")
        if matched and not problems:
            ours, diff = _ours(matched, e.id), "; ".join(c.diff for c in matched if c.diff)
            passed = all(c.passed for c in matched)
        else:
            ours, diff, passed = "; ".join(problems) or "no evidence", "", False
        rows.append({"id": e.id, "section": e.section, "claim": e.claim, "paper": e.paper, "ours": ours,
                     "difference": diff, "tolerance": e.tolerance, "result": "PASS" if passed else "FAIL",
                     "run": "; ".join(runs)})
    return rows


def is_beyond(name: str) -> bool:
    """An experiment beyond the paper: its claims are ours (BEYOND_PAPER)."""
    return name in registry.EXPERIMENTS and bool(getattr(registry.get(name), "BEYOND_PAPER", False))


def extra_rows(infos: dict[str, RunInfo]) -> list[dict]:
    """Checks the experiments make that no ACCEPTANCE.md row collects
    (those of experiments beyond the paper go to their own section)."""
    rows = []
    for name, info in infos.items():
        if is_beyond(name):
            continue
        for c in info.claims:
            if acceptance.entry_for(c.key, name) is None:
                rows.append({"id": c.key, "claim": c.text + (f" ({c.point})" if c.point else ""),
                             "paper": c.paper, "ours": c.ours, "difference": c.diff, "tolerance": c.tolerance,
                             "result": c.result, "run": info.run_label})
    return rows


def claim_rows() -> list[dict]:
    """The report's claim table (kept for callers of the first report)."""
    return acceptance_rows(collect())


def version_notes(infos: dict[str, RunInfo], lock: dict[str, str] | None = None) -> list[str]:
    """One line per run made with package versions other than
    requirements.lock's, e.g. ``fig9/<run> (quick, sim): numpy 2.3.0
    (requirements.lock: 2.4.6)``; nothing for runs that match."""
    if lock is None:
        try:
            lock = lockfile.read()
        except lockfile.LockError as exc:
            return [f"package versions not checked: {exc}"]
    notes = []
    for info in infos.values():
        if info.run_dir is None or not info.meta:
            continue
        packages = info.meta.get("environment", {}).get("packages")
        if not packages:
            notes.append(f"{info.run_label}: records no package versions")
            continue
        diffs = lockfile.run_differences(packages, lock)
        if diffs:
            notes.append(f"{info.run_label}: {', '.join(diffs)}")
    return notes


_NOTE_HEAD = (f"Package versions differ from {lockfile.LOCK_NAME}: these runs may not match the numbers of a "
              f"locked install (`make setup`); rerun them there to compare.")


def reading(info: RunInfo) -> str:
    """One line saying what the figure shows: the experiment's own
    ``reading(df)`` if it has one, else the drop-rate range of every engine
    and how many of its checks hold."""
    mod = registry.get(info.name)
    if hasattr(mod, "reading"):
        return str(mod.reading(info.df))
    parts = []
    df = info.df
    if df is not None and {"engine_label", "drop_rate"} <= set(df.columns):
        for label, g in df.groupby("engine_label", sort=False):
            lo, hi = 100 * g["drop_rate"].min(), 100 * g["drop_rate"].max()
            parts.append(f"{label} {lo:.1f}-{hi:.1f}%" if hi - lo >= 0.05 else f"{label} {hi:.1f}%")
        head = "drop rate over its points: " + ", ".join(parts)
    else:
        head = mod.TITLE
    n_ok = sum(c.passed for c in info.claims)
    return f"{head}; {n_ok} of {len(info.claims)} checks hold."


_IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


def data_uri(path: Path) -> str:
    """The image at ``path`` as a ``data:`` URI (base64), for a page that
    needs no other file. SVG is base64 too rather than inline markup, so two
    matplotlib SVGs cannot clash on their element ids."""
    mime = _IMAGE_TYPES[path.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def beyond(infos: dict[str, RunInfo]) -> list[dict]:
    """One entry per experiment beyond the paper: its summary (the module's
    BEYOND_SUMMARY), its claims as rows (ours), its reading and figure."""
    out = []
    for name, info in infos.items():
        if not is_beyond(name):
            continue
        mod = registry.get(name)
        rows = [{"id": c.key, "claim": c.text + (f" ({c.point})" if c.point else ""), "paper": c.paper,
                 "ours": c.ours, "difference": c.diff, "tolerance": c.tolerance, "result": c.result,
                 "run": info.run_label} for c in info.claims]
        if info.error:
            rows.append({"id": f"{name}.run", "claim": f"{name}: its claims", "paper": "ours", "ours": info.error,
                         "difference": "", "tolerance": "", "result": "FAIL", "run": info.run_label})
        imgs = (sorted(p for p in info.run_dir.iterdir() if p.suffix.lower() in _IMAGE_TYPES)
                if info.run_dir is not None and info.df is not None else [])
        text = reading(info) if info.df is not None and not info.error else info.error
        # optional: a module's own table of results (plan_paper: the plan)
        table = mod.table(info.df) if hasattr(mod, "table") and info.df is not None and not info.error else None
        out.append({"name": name, "title": mod.TITLE, "summary": getattr(mod, "BEYOND_SUMMARY", ""),
                    "rows": rows, "images": imgs, "reading": text, "run": info.run_label, "table": table})
    return out


def figures(infos: dict[str, RunInfo]) -> list[dict]:
    out = []
    for name, info in infos.items():
        if not info.registered or is_beyond(name):
            continue
        title = registry.get(name).TITLE
        if info.run_dir is None or info.df is None:
            out.append({"name": name, "title": title, "images": [], "reading": info.error})
            continue
        imgs = sorted(p for p in info.run_dir.iterdir() if p.suffix.lower() in _IMAGE_TYPES)
        text = reading(info) if not info.error else info.error
        out.append({"name": name, "title": title, "images": imgs, "reading": text, "run": info.run_label})
    return out


# ---- writing --------------------------------------------------------------------

def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_BEYOND_HEAD = ("Experiments that go past WireCAP (Wu & DeMar, IMC 2014). **These claims are ours, not the "
                "paper's**: the paper makes none of them, and none counts in the ACCEPTANCE.md total above; "
                "the source column says where each comes from.")


def _markdown(rows, extras, figs, base: Path, stamp: str, notes=(), base_html: str = "REPORT.html",
              ours=()) -> str:
    n_pass = sum(r["result"] == "PASS" for r in rows)
    lines = ["# WireCAP reproduction report", "",
             f"Generated {stamp} from the latest complete run of each experiment under `results/`. "
             f"**{n_pass} of {len(rows)} claims of ACCEPTANCE.md pass.**", "",
             f"Figures are linked relative to this file, so they show while it stays next to the run "
             f"folders (moving the whole results folder is fine) and are gone once the runs are deleted "
             f"(`invoke clean-results`). **{base_html} is self-contained**: it embeds every figure, so "
             f"that one file can be copied or mailed on its own.", ""]
    if notes:
        lines += [f"> **Note.** {_NOTE_HEAD}", ">"] + [f"> - {_cell(n)}" for n in notes] + [""]
    lines += ["| claim | paper | ours | difference | tolerance | result | run |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r[c]) for c in COLUMNS) + " |")
    if extras:
        lines += ["", "## Further checks", "",
                  "Checks the experiments make beyond ACCEPTANCE.md.", "",
                  "| check | paper | ours | difference | tolerance | result | run |",
                  "|---|---|---|---|---|---|---|"]
        for r in extras:
            lines.append("| " + " | ".join(_cell(r[c]) for c in COLUMNS) + " |")
    if ours:
        lines += ["", "## Beyond the paper", "", _BEYOND_HEAD, ""]
        for b in ours:
            lines += [f"### {b['name']}: {b['title']}", ""]
            if b["summary"]:
                lines += [b["summary"], ""]
            lines += ["| our claim | source | ours | difference | tolerance | result | run |",
                      "|---|---|---|---|---|---|---|"]
            for r in b["rows"]:
                lines.append("| " + " | ".join(_cell(r[c]) for c in COLUMNS) + " |")
            lines += ["", b["reading"], ""]
            if b.get("table") is not None:
                t = b["table"]
                lines += ["| " + " | ".join(_cell(c) for c in t.columns) + " |",
                          "|" + "---|" * len(t.columns)]
                lines += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in t.itertuples(index=False)] + [""]
            for img in b["images"]:
                lines += [f"![{b['name']}]({Path(os.path.relpath(img, base)).as_posix()})", ""]
    lines += ["", "## Figures", ""]
    for f in figs:
        lines += [f"### {f['name']}: {f['title']}", "", f["reading"], ""]
        for img in f["images"]:
            lines += [f"![{f['name']}]({Path(os.path.relpath(img, base)).as_posix()})", ""]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f4f4f4}td.PASS{background:#d8f5d0;font-weight:bold}td.FAIL{background:#f9d6d5;font-weight:bold}
figure{display:inline-block;margin:1em 1em 1em 0}figure img{max-width:560px}
div.note{background:#fff4d6;border-left:4px solid #e0a800;padding:2px 12px;margin:1em 0}"""


def _html_table(rows, head: str, source: str = "paper") -> list[str]:
    heads = (head, source) + COLUMNS[2:]
    out = ["<table>", "<tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"]
    for r in rows:
        cells = [f"<td class='{r['result']}'>{r['result']}</td>" if c == "result" else f"<td>{html.escape(str(r[c]))}</td>"
                 for c in COLUMNS]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return out + ["</table>"]


def _html(rows, extras, figs, stamp: str, notes=(), ours=()) -> str:
    n_pass = sum(r["result"] == "PASS" for r in rows)
    out = ["<!doctype html>", "<html><head><meta charset='utf-8'><title>WireCAP reproduction report</title>",
           f"<style>{_CSS}</style></head><body>", "<h1>WireCAP reproduction report</h1>",
           f"<p>Generated {html.escape(stamp)} from the latest complete run of each experiment. "
           f"<b>{n_pass} of {len(rows)} claims of ACCEPTANCE.md pass.</b> "
           f"This page is self-contained: every figure is embedded in it.</p>"]
    if notes:
        out += [f"<div class='note'><p><b>Note.</b> {html.escape(_NOTE_HEAD)}</p><ul>"]
        out += [f"<li>{html.escape(n)}</li>" for n in notes] + ["</ul></div>"]
    out += _html_table(rows, "claim")
    if extras:
        out += ["<h2>Further checks</h2>"] + _html_table(extras, "check")
    if ours:
        out += ["<h2>Beyond the paper</h2>",
                "<p>" + html.escape(_BEYOND_HEAD).replace("**", "") + "</p>"]
        for b in ours:
            out.append(f"<h3>{html.escape(b['name'])}: {html.escape(b['title'])}</h3>")
            if b["summary"]:
                out.append(f"<p>{html.escape(b['summary'])}</p>")
            out += _html_table(b["rows"], "our claim", "source")
            out.append(f"<p>{html.escape(b['reading'])}</p>")
            if b.get("table") is not None:
                t = b["table"]
                out += ["<table>", "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in t.columns) + "</tr>"]
                out += ["<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
                        for r in t.itertuples(index=False)] + ["</table>"]
            for img in b["images"]:
                out.append(f"<figure><img src='{data_uri(img)}' alt='{html.escape(b['name'])}'>"
                           f"<figcaption>{html.escape(b.get('run', ''))}</figcaption></figure>")
    out.append("<h2>Figures</h2>")
    for f in figs:
        out.append(f"<h3>{html.escape(f['name'])}: {html.escape(f['title'])}</h3>")
        out.append(f"<p>{html.escape(f['reading'])}</p>")
        for img in f["images"]:
            out.append(f"<figure><img src='{data_uri(img)}' alt='{html.escape(f['name'])}'>"
                       f"<figcaption>{html.escape(f.get('run', ''))}</figcaption></figure>")
    return "\n".join(out + ["</body></html>"]) + "\n"


def write_report(out: str | None = None) -> tuple[Path, Path]:
    """Write REPORT.md and REPORT.html (next to it); return both paths."""
    md_path = Path(out) if out else results.results_dir() / "REPORT.md"
    html_path = md_path.with_suffix(".html")
    infos = collect()
    rows, extras, figs, ours = acceptance_rows(infos), extra_rows(infos), figures(infos), beyond(infos)
    notes = version_notes(infos)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results.atomic_write_text(md_path, _markdown(rows, extras, figs, md_path.parent, stamp, notes, html_path.name,
                                                 ours))
    results.atomic_write_text(html_path, _html(rows, extras, figs, stamp, notes, ours))
    return md_path, html_path
