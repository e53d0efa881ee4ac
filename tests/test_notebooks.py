"""The notebooks run top to bottom (nbclient), with results and without, so they cannot rot."""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from experiments import results, runner
from experiments import sweep as sw

NOTEBOOKS = results.REPO_ROOT / "notebooks"
CELL_TIMEOUT_S = 300


def execute(name: str, results_dir: Path, monkeypatch) -> list[str]:
    """Run a notebook in a fresh kernel reading `results_dir`; return its text outputs."""
    monkeypatch.setenv("WIRECAP_RESULTS", str(results_dir))  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name}: {out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream":
                texts.append(out.text)
            elif "data" in out:
                texts.append(out.data.get("text/markdown", "") + out.data.get("text/plain", ""))
    return texts


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """Quick runs of two figures and a small sweep (what a user has after a few commands)."""
    d = tmp_path_factory.mktemp("results")
    old = os.environ.get("WIRECAP_RESULTS")
    os.environ["WIRECAP_RESULTS"] = str(d)
    try:
        for name in ("fig9", "fig10"):
            runner.run_experiment(name, quick=True, progress=False)
        sw.run_sweep(sw.grid_from_args("wirecap-b,dna", M="256", R="100,500", x="300", P="1e3,1e4,1e5"),
                     label="nb", progress=False)
    finally:
        if old is None:
            del os.environ["WIRECAP_RESULTS"]
        else:
            os.environ["WIRECAP_RESULTS"] = old
    return d


def test_drop_rates_with_results(populated, monkeypatch):
    text = "\n".join(execute("drop_rates.ipynb", populated, monkeypatch))
    assert "DNA, P = 6,000" in text                       # the paper's number, next to ours
    assert "No results yet for fig8" in text               # and what is missing, said plainly
    assert "claims pass" in text


def test_drop_rates_on_an_empty_results_folder(tmp_path, monkeypatch):
    text = "\n".join(execute("drop_rates.ipynb", tmp_path, monkeypatch))
    assert "No results yet for fig9" in text and "0 of" in text


def test_explore_sweep_loads_the_newest_sweep(populated, monkeypatch):
    text = "\n".join(execute("explore_sweep.ipynb", populated, monkeypatch))
    assert "sweep" in text and "axes that vary: ['P', 'R', 'engine_label']" in text


def test_explore_sweep_without_any_table(tmp_path, monkeypatch):
    text = "\n".join(execute("explore_sweep.ipynb", tmp_path, monkeypatch))
    assert "results/ holds no table yet" in text
