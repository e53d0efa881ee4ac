"""The reproduction report: one row per ACCEPTANCE.md claim, PASS or FAIL, and every figure."""
import base64
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from experiments import acceptance, registry, report, results, runner
from experiments.claims import Claim

SHARED_ACCEPTANCE = results.REPO_ROOT.parent / "shared" / "ACCEPTANCE.md"


def _table_rows(md: str) -> list[list[str]]:
    """The first Markdown table's body rows, cells split on unescaped pipes."""
    lines = md.split("\n## ")[0].splitlines()
    body = [ln for ln in lines if ln.startswith("| ") and not ln.startswith("| claim |")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]] for ln in body]


def acceptance_rows(path: Path) -> list[tuple[str, list[str]]]:
    """(section, cells) of every table row in ACCEPTANCE.md §2."""
    text = path.read_text()
    out, section = [], None
    for line in text[text.index("## 2."):].splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        elif line.startswith("|") and not line.startswith("|---") and section:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] not in ("claim", "statistic (published)", "queue, engine, drop type"):
                out.append((section, cells))
    return out


def test_catalogue_is_acceptance_md_verbatim():
    if not SHARED_ACCEPTANCE.exists():
        pytest.skip(f"{SHARED_ACCEPTANCE} is not next to this checkout (the catalogue is checked where it is)")
    rows = acceptance_rows(SHARED_ACCEPTANCE)
    assert len(rows) == len(acceptance.CATALOGUE), "one catalogue entry per ACCEPTANCE.md row"
    for (section, cells), entry in zip(rows, acceptance.CATALOGUE):
        assert entry.section == section
        assert entry.claim == cells[0]
        assert entry.tolerance == cells[-1]
        if len(cells) == 3 and cells[1]:
            assert entry.paper == cells[1]  # Table 1 has a paper column: take it as is


def test_catalogue_ids_are_unique_and_keys_route_claims():
    ids = [e.id for e in acceptance.CATALOGUE]
    assert len(ids) == len(set(ids))
    assert acceptance.entry_for("fig8.lossless.DNA", "fig8").id == "fig8.lossless"
    assert acceptance.entry_for("table1.q0.NETMAP.capture_drops", "table1").id == "table1.q0.NETMAP"
    assert acceptance.entry_for("fig12.lower_t_better.256.500", "fig12").id == "fig12.lower_t_better"
    assert acceptance.entry_for("fig9.something_else", "fig9") is None


def test_report_has_one_row_per_claim_with_pass_or_fail(res):
    for name in ("fig8", "fig9", "fig10"):
        runner.run_experiment(name, quick=True)
    md_path, html_path = report.write_report()
    md = md_path.read_text()
    rows = _table_rows(md)
    assert len(rows) == len(acceptance.CATALOGUE)
    assert all(len(r) == 7 for r in rows)
    assert {r[5] for r in rows} <= {"PASS", "FAIL"}
    by_claim = {r[0]: r for r in rows}
    dna = by_claim["DNA loses ~15% at P = 6,000"]
    assert dna[1] == "~15%" and dna[3].endswith("pp") and dna[4] == "12-18%" and dna[5] == "PASS"
    assert dna[6].startswith("fig9/") and "(quick, sim)" in dna[6]
    # a claim no registered experiment checks is a FAIL that says why, never a missing row
    (missing,) = [r for r in rows if r[0] == "~5,000,000 packets over ~32 s"]
    if "fig3" not in registry.EXPERIMENTS:
        assert missing[5] == "FAIL" and "not implemented yet" in missing[2]
    else:
        assert missing[5] == "FAIL" and "invoke run-experiment --name fig3" in missing[2]
    assert f"{sum(r[5] == 'PASS' for r in rows)} of {len(rows)} claims" in md
    # every figure of the runs, with a reading, linked relative to the report
    for name in ("fig8", "fig9", "fig10"):
        png = results.latest_run(name) / f"{name}.png"
        assert f"({png.relative_to(res)})" in md
    assert "drop rate over its points" in md
    html = html_path.read_text()
    claims_table = html.split("<h2>")[0]
    assert claims_table.count("<tr>") == len(acceptance.CATALOGUE) + 1  # and a header row
    assert claims_table.count("<td class='PASS'>PASS</td>") == sum(r[5] == "PASS" for r in rows)
    for src in re.findall(r"<img src='([^']+)'", html):
        assert src.startswith("data:image/png;base64,")  # embedded: see the self-contained test


def _references(html: str) -> list[str]:
    """Every src/href (and CSS url()) value of the page, quoted or not; base64
    payloads are cut first so that their text cannot read as an attribute."""
    html = re.sub(r"(data:[\w/+.-]+;base64,)[A-Za-z0-9+/=]+", r"\1", html)
    attrs = re.findall(r"""\b(?:src|href|srcset|poster|data)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^\s>]+))""", html, re.I)
    return [next((v for v in a if v), "") for a in attrs] + re.findall(r"url\(\s*['\"]?([^'\")]*)", html, re.I)


def test_html_report_is_self_contained(res):
    run_dirs = [runner.run_experiment(name, quick=True) for name in ("fig10", "fig9")]
    produced = sorted(p for d in run_dirs for p in d.iterdir() if p.suffix in (".png", ".svg"))
    assert produced, "the quick runs drew no figure"
    md_path, html_path = report.write_report()
    page = html_path.read_text()

    # nothing on the page points at a file: images are data: URIs, anchors stay inside the page
    refs = _references(page)
    assert refs, "the page embeds its figures as src values"
    for ref in refs:
        assert ref.startswith("data:") or ref.startswith("#"), f"REPORT.html points at {ref[:80]!r}"
    for path in produced:
        assert path.name not in page and str(path) not in page

    # every figure the runs produced is on the page, byte for byte
    srcs = re.findall(r"<img src='([^']+)'", page)
    assert len(srcs) == len(produced) == page.count("<img ")
    payloads = [base64.b64decode(s.split(",", 1)[1], validate=True) for s in srcs]
    assert payloads[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(payloads) == sorted(p.read_bytes() for p in produced)

    # Markdown keeps relative links and says which file is the self-contained one
    md = md_path.read_text()
    assert "REPORT.html is self-contained" in md
    for path in produced:
        assert f"]({path.relative_to(res).as_posix()})" in md

    # the runs gone (invoke clean-results, or the page mailed on its own): the page still holds them
    for d in run_dirs:
        shutil.rmtree(d)
    alone = res / "mailed" / "REPORT.html"
    alone.parent.mkdir()
    shutil.move(html_path, alone)
    kept = alone.read_text()
    assert re.findall(r"<img src='([^']+)'", kept) == srcs
    assert all(base64.b64decode(s.split(",", 1)[1]).startswith(b"\x89PNG") for s in srcs)


def test_svg_figures_are_embedded_too(res):
    run_dir = runner.run_experiment("fig10", quick=True)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect id="a" width="10" height="10"/></svg>'
    (run_dir / "fig10_extra.svg").write_text(svg)
    page = report.write_report()[1].read_text()
    uris = [s for s in re.findall(r"<img src='([^']+)'", page) if s.startswith("data:image/svg+xml;base64,")]
    assert len(uris) == 1 and base64.b64decode(uris[0].split(",", 1)[1]).decode() == svg
    assert "fig10_extra.svg" not in page


def test_report_rebuilds_from_disk_alone(res):
    run_dir = runner.run_experiment("fig10", quick=True)
    first = report.write_report()[0].read_text()
    (run_dir / "claims.json").unlink()  # claims are re-evaluated from data.parquet
    second = report.write_report()[0].read_text()
    strip = lambda t: re.sub(r"Generated .*? UTC", "", t)  # noqa: E731
    assert strip(first) == strip(second)


def test_a_failing_check_fails_its_row(res, monkeypatch):
    runner.run_experiment("fig10", quick=True)
    mod = registry.get("fig10")
    real = mod.claims

    def broken(df):
        return [Claim(c.experiment, c.key, c.text, c.paper, "9.99 pp", c.tolerance, False, c.point, c.diff)
                for c in real(df)]

    monkeypatch.setattr(mod, "claims", broken)
    rows = report.acceptance_rows(report.collect())
    (row,) = [r for r in rows if r["id"] == "fig10.spread"]
    assert row["result"] == "FAIL" and "9.99 pp" in row["ours"]


def test_claims_that_raise_are_reported_not_fatal(res, monkeypatch):
    runner.run_experiment("fig10", quick=True)
    mod = registry.get("fig10")

    def boom(df):
        raise KeyError("drop_rate")

    monkeypatch.setattr(mod, "claims", boom)
    md = report.write_report()[0].read_text()
    (row,) = [r for r in _table_rows(md) if r[0].startswith("WireCAP-B-(64,400), (128,200)")]
    assert row[5] == "FAIL" and "claims() failed" in row[2] and "KeyError" in row[2]


def test_status_and_published_numbers_for_notebooks(res):
    from experiments import nbtools

    st = nbtools.status()
    assert set(registry.names()) <= set(st["experiment"])
    assert (st.loc[st["experiment"] == "fig9", "latest run"] == "-").all()
    table = nbtools.published_vs_ours("fig9", None)
    assert list(table["paper %"]) == [15.0, 0.0, 71.0] and (table["note"] == "no saved run").all()
    run_dir = runner.run_experiment("fig9", quick=True)
    df = results.load_run(run_dir)[1]
    table = nbtools.published_vs_ours("fig9", df)
    assert table["ours %"].notna().all()
    assert abs(table.loc[0, "ours %"] - 100 * df[(df["engine_label"] == "DNA") & (df["P"] == 6000)
                                                & df["nic_buffer"]]["drop_rate"].iloc[0]) < 1e-9
    assert isinstance(nbtools.acceptance_table(), pd.DataFrame)
