"""requirements.lock: parsed strictly, complete, equal to what is installed, and named in the report
when a run was made with other versions. No network: `invoke lock`'s resolution is replaced here."""
import json
import re

import pytest

from experiments import lockfile, report, results, runner
from experiments.lockfile import LOCK_NAME, LockError

ROOT = results.REPO_ROOT


@pytest.fixture(scope="module")
def lock():
    return lockfile.read()


# ---- parsing and writing --------------------------------------------------------------

def test_parse_reads_pins_under_canonical_names():
    text = "# header\n\nJinja2==3.1.6\nnumpy == 2.4.6  # the random streams\nPyYAML==6.0.4\nzope.interface==7.2\n"
    assert lockfile.parse(text) == {"jinja2": "3.1.6", "numpy": "2.4.6", "pyyaml": "6.0.4",
                                    "zope-interface": "7.2"}


@pytest.mark.parametrize("line", ["numpy>=1.26", "numpy", "-e /work/main", "foo @ file:///tmp/foo.whl",
                                  "--index-url https://example.org", "numpy==2.4.6; python_version<'3.12'"])
def test_parse_refuses_anything_but_exact_pins(line):
    with pytest.raises(LockError) as err:
        lockfile.parse(f"pandas==3.1.1\n{line}\n")
    assert str(err.value) == f"{LOCK_NAME}:2: {line!r}: expected name==version"


def test_parse_refuses_a_package_pinned_twice():
    with pytest.raises(LockError) as err:
        lockfile.parse("numpy==2.4.6\npandas==3.1.1\nNumPy==2.4.7\n", source="x.lock")
    assert str(err.value) == "x.lock:3: numpy is pinned twice (2.4.6 and 2.4.7)"


def test_a_missing_lock_says_how_to_make_one(tmp_path):
    with pytest.raises(LockError, match="no such file .*invoke lock"):
        lockfile.read(tmp_path / LOCK_NAME)


def test_render_sorts_and_round_trips():
    pins = {"zict": "3.0.0", "anyio": "4.16.0", "numpy": "2.4.6"}
    text = lockfile.render(pins, python="3.11.7", platform="linux x86_64")
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert body == ["anyio==4.16.0", "numpy==2.4.6", "zict==3.0.0"]
    assert lockfile.parse(text) == pins
    assert "Python 3.11.7 on linux x86_64" in text and "invoke lock" in text and "update-reference" in text


def test_the_committed_lock_is_as_invoke_lock_writes_it(lock):
    text = (ROOT / LOCK_NAME).read_text()
    head = text[:text.index("\n" + next(iter(sorted(lock))) + "==") + 1]
    m = re.search(r"Python (\S+) on (\S+ \S+),", head)
    assert m, "the header names the Python and platform the lock was made with"
    assert text == lockfile.render(lock, python=m.group(1), platform=m.group(2))


# ---- comparing: exact messages ---------------------------------------------------------------

def test_changes_lists_package_old_and_new():
    old = {"numpy": "2.4.6", "pandas": "3.1.1", "gone": "1.0"}
    new = {"numpy": "2.4.7", "pandas": "3.1.1", "added": "2.0"}
    assert lockfile.changes(old, new) == ["added: (none) -> 2.0", "gone: 1.0 -> (none)", "numpy: 2.4.6 -> 2.4.7"]
    assert lockfile.changes(new, dict(new)) == []


def test_mismatches_name_every_difference():
    lock = {"numpy": "2.4.6", "pandas": "3.1.1", "tqdm": "4.70.1"}
    have = {"numpy": "2.3.0", "tqdm": "4.70.1", "ipdb": "0.13.13"}
    assert lockfile.mismatches(lock, have) == [
        "ipdb: installed 0.13.13, not in requirements.lock",
        "numpy: installed 2.3.0, requirements.lock has 2.4.6",
        "pandas: not installed, requirements.lock has 3.1.1",
    ]
    assert lockfile.mismatches(lock, dict(lock)) == []


def test_run_differences_compare_what_a_run_recorded():
    lock = {"numpy": "2.4.6", "pandas": "3.1.1", "pyarrow": "26.0.1"}
    recorded = {"numpy": "1.26.4", "pandas": "3.1.1", "pyarrow": None, "unpinned": "9.9"}
    assert lockfile.run_differences(recorded, lock) == [
        "numpy 1.26.4 (requirements.lock: 2.4.6)",
        "pyarrow not installed (requirements.lock: 26.0.1)",
    ]
    assert lockfile.run_differences({"numpy": "2.4.6", "pandas": "3.1.1"}, lock) == []


# ---- the lock against this environment ----------------------------------------------------------

def test_the_lock_covers_everything_the_project_needs(lock):
    needed = lockfile.dependency_closure()   # wirecap-repro[dev], recursively, and the build tools
    assert not sorted(needed - set(lock)), f"installed and needed but not in {LOCK_NAME}: run `invoke lock`"
    assert lockfile.PROJECT not in lock
    assert {lockfile.canonical(p) for p in results.VERSIONED_PACKAGES} <= set(lock)
    for req in lockfile.declared():
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0)
        assert lockfile.canonical(name) in lock, f"{req} (pyproject.toml) is not pinned"


def test_installed_versions_equal_the_lock(lock):
    """A venv that drifted from the lock (an upgrade by hand, an install
    without it) fails here, before its numbers are compared with the reference."""
    drift = [p for p in lockfile.mismatches(lock, lockfile.installed()) if not p.endswith(f"not in {LOCK_NAME}")]
    assert not drift, "this environment differs from requirements.lock (rebuild: rm -rf .venv && make setup):\n" \
        + "\n".join(drift)


def test_check_command_exit_status(tmp_path, capsys):
    good = tmp_path / "good.lock"
    good.write_text(lockfile.render(lockfile.installed()))
    assert lockfile.main(["check", "--lock", str(good)]) == 0
    assert "installed packages match" in capsys.readouterr().out
    have = lockfile.installed()
    bad = tmp_path / "bad.lock"
    bad.write_text(lockfile.render({**have, "numpy": "0.0.1"}))
    assert lockfile.main(["check", "--lock", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"numpy: installed {have['numpy']}, requirements.lock has 0.0.1" in err and "invoke lock" in err
    assert lockfile.main(["check", "--lock", str(tmp_path / "none.lock")]) == 2


def test_makefile_installs_from_the_lock_and_checks_it():
    mk = (ROOT / "Makefile").read_text()
    rule = mk[mk.index("$(STAMP):"):].split("\n\n")[0]
    assert "$(LOCK)" in rule.splitlines()[0], "editing the lock must reinstall"
    assert "-c $(LOCK) $(BUILD_TOOLS)" in rule and "-c $(LOCK) --no-build-isolation -e '.[dev]'" in rule
    assert "pip check" in rule and "experiments.lockfile check --lock $(LOCK)" in rule
    assert re.search(r"^LOCK\s*:=\s*requirements\.lock$", mk, re.M)


# ---- refreshing: `invoke lock` without the network ------------------------------------------------

def test_refresh_writes_the_new_lock_and_says_what_changed(tmp_path, monkeypatch):
    path = tmp_path / LOCK_NAME
    path.write_text(lockfile.render({"numpy": "2.4.6", "pandas": "3.1.1", "tqdm": "4.70.1"}))
    new = {"numpy": "2.4.7", "pandas": "3.1.1", "tqdm": "4.70.1", "zipp": "4.1.2"}
    monkeypatch.setattr(lockfile, "resolve", lambda python="", log=print: (dict(new), "3.11.7"))

    lines = lockfile.refresh(path, write=False)
    assert lines[0] == "requirements.lock: 4 packages, 2 changed; not written (--dry-run)"
    assert lockfile.read(path)["numpy"] == "2.4.6"

    lines = lockfile.refresh(path)
    assert lines[:3] == ["requirements.lock: 4 packages, 2 changed; written",
                         "  numpy: 2.4.6 -> 2.4.7", "  zipp: (none) -> 4.1.2"]
    assert lines[3].startswith("WARNING: numpy changed: results may change") and "invoke update-reference" in lines[3]
    assert lockfile.read(path) == new and "Python 3.11.7" in path.read_text()

    lines = lockfile.refresh(path)
    assert lines == ["requirements.lock: 4 packages, 0 changed; written"]


def test_lock_task_is_a_thin_documented_wrapper(monkeypatch, capsys):
    import importlib.util

    from invoke import Context, Exit

    spec = importlib.util.spec_from_file_location("wirecap_tasks", ROOT / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    assert tasks.ns.tasks["lock"] is tasks.lock
    assert tasks.lock.__doc__.strip()
    assert all("default" in tasks.lock.help[p] for p in ("python", "dry_run"))
    calls = []

    def fake(python="", write=True):
        calls.append((python, write))
        return ["requirements.lock: 1 packages, 0 changed; not written (--dry-run)"]

    monkeypatch.setattr(lockfile, "refresh", fake)
    tasks.lock(Context(), python="python3.11", dry_run=True)
    assert calls == [("python3.11", False)] and "0 changed" in capsys.readouterr().out

    def broken(python="", write=True):
        raise LockError("installing the declared requirements failed")

    monkeypatch.setattr(lockfile, "refresh", broken)
    with pytest.raises(Exit, match="lock: installing the declared requirements failed"):
        tasks.lock(Context())


# ---- the report names runs made with other versions ----------------------------------------------

def test_version_notes_name_run_package_and_both_versions(res, lock):
    run = res / "fig9" / "20260101T000000Z-abc1234"
    other = dict(lock, numpy="1.26.4")
    infos = {
        "fig9": report.RunInfo("fig9", True, run, {"config": {"quick": True},
                                                   "environment": {"packages": {"numpy": "1.26.4",
                                                                                "pandas": lock["pandas"]}}}),
        "fig8": report.RunInfo("fig8", True, res / "fig8" / "20260101T000000Z-abc1234",
                               {"config": {}, "environment": {"packages": {"numpy": lock["numpy"]}}}),
        "fig3": report.RunInfo("fig3", True),  # no run: nothing to say here
    }
    assert report.version_notes(infos, lock) == [
        f"fig9/20260101T000000Z-abc1234 (quick, sim): numpy 1.26.4 ({LOCK_NAME}: {lock['numpy']})"]
    assert report.version_notes(infos, other) == [
        f"fig8/20260101T000000Z-abc1234 (sim): numpy {lock['numpy']} ({LOCK_NAME}: 1.26.4)"]


def test_report_notes_a_run_made_with_another_numpy(res, lock):
    run_dir = runner.run_experiment("fig10", quick=True)
    cfg_path = run_dir / "config.json"
    meta = json.loads(cfg_path.read_text())
    meta["environment"]["packages"] = {p: lock[lockfile.canonical(p)] for p in results.VERSIONED_PACKAGES}
    cfg_path.write_text(json.dumps(meta))
    md = report.write_report()[0].read_text()
    assert "Package versions differ" not in md and "> - " not in md   # a matching run: no note

    meta["environment"]["packages"]["numpy"] = "1.26.4"
    cfg_path.write_text(json.dumps(meta))
    md_path, html_path = report.write_report()
    md = md_path.read_text()
    label = f"fig10/{run_dir.name} (quick, sim)"
    note = f"{label}: numpy 1.26.4 ({LOCK_NAME}: {lock['numpy']})"
    assert f"> - {note}" in md
    assert md.index("Package versions differ") < md.index("| claim |"), "the note stands above the claims"
    html = html_path.read_text()
    assert "<div class='note'>" in html and f"<li>{note}</li>" in html
