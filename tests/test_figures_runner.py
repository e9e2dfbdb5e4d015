"""The figure runner (steerjax._figures), ``steerjax figures`` and the output helpers of
steerjax.plotting: discovery, selection, contract checks, failure handling, progress, files
and metadata.  The mechanics run on a temporary folder of tiny dummy scripts; one test runs
the real Figs. 2-3 with --quick."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import steerjax as sj
import steerjax.plotting  # noqa: F401  (sj.plotting: matplotlib is not imported by steerjax)
from steerjax._cli import main as cli_main
from steerjax.plotting import parse_override

REPO = Path(__file__).resolve().parents[1]

DUMMY = """
from pathlib import Path

import numpy as np

import _harness as harness
import steerjax.plotting as sjp

FIGURE = "fig1"
TITLE = "a dummy figure"
DEFAULTS = {"n": 5, "scale": 1.0}


def compute(quick=False, *, progress=None, **overrides):
    p = harness.resolve_parameters(FIGURE, DEFAULTS, overrides, quick=quick, quick_defaults={"n": 3})
    harness.report_progress(progress, 1, 3)
    return {"parameters": p, "x": np.arange(p["n"]) * float(p["scale"])}


def plot(data):
    fig, axes = sjp.new_figure(figsize=(2.0, 1.5))
    axes[0, 0].plot(data["x"])
    return fig


def main(out_dir, quick=False, progress=None, **overrides):
    data = compute(quick, progress=progress, **overrides)
    harness.report_progress(progress, 2, 3)
    files = sjp.save_figure(plot(data), out_dir, FIGURE, dpi=40)
    files.append(harness.save_table(out_dir, FIGURE, {"x": data["x"]}))
    meta = harness.run_metadata(
        figure=FIGURE, title=TITLE, parameters=data["parameters"], grid={"n": int(data["x"].size)},
        quick=quick, runtime_s={"total": 0.01}, files=[*files, Path(out_dir) / "fig1.json"], script=__file__,
    )
    harness.write_metadata(out_dir, FIGURE, meta)
    harness.report_progress(progress, 3, 3)
    return meta
"""

BROKEN = """
FIGURE = "fig5"
TITLE = "always fails"
def compute(quick=False, **overrides):
    return {}
def plot(data):
    return None
def main(out_dir, quick=False, progress=None, **overrides):
    raise RuntimeError("boom")
"""

BAD_INPUT = BROKEN.replace("fig5", "fig6").replace(
    'raise RuntimeError("boom")', 'raise ValueError("x = 3 is outside [0, 1]")'
)

INCOMPLETE = """
FIGURE = "fig7"
TITLE = "no plot function"
def compute(quick=False, **overrides):
    return {}
def main(out_dir, quick=False, progress=None, **overrides):
    return {}
"""


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "fig1_dummy.py").write_text(DUMMY)
    (folder / "_harness.py").write_text((REPO / "experiments" / "_harness.py").read_text())
    (folder / "fig5_broken.py").write_text(BROKEN)
    (folder / "fig6_bad_input.py").write_text(BAD_INPUT)
    (folder / "fig7_incomplete.py").write_text(INCOMPLETE)
    (folder / "helper.py").write_text("raise RuntimeError('not a figure script')\n")
    (folder / "fig_x.py").write_text("raise RuntimeError('not a figure script')\n")
    (folder / "README.md").write_text("notes\n")
    return folder


class FakeBar:
    """Records what the runner asks of a progress bar."""

    made: list = []

    def __init__(self, total, label):
        self.total, self.label, self.count, self.closed = total, label, 0, False
        FakeBar.made.append(self)

    def update(self, n=1):
        self.count += n

    def close(self):
        self.closed = True


# ---------------------------------------------------------------------------------------------
# Discovery, selection, loading
# ---------------------------------------------------------------------------------------------


def test_discovery_finds_only_fig_scripts_in_order(scripts):
    found = sj.plotting.discover_figures(scripts)
    assert [(s.number, s.name, s.path.name) for s in found] == [
        (1, "fig1", "fig1_dummy.py"),
        (5, "fig5", "fig5_broken.py"),
        (6, "fig6", "fig6_bad_input.py"),
        (7, "fig7", "fig7_incomplete.py"),
    ]


def test_discovery_rejects_two_scripts_for_one_figure(scripts):
    (scripts / "fig1_other.py").write_text(DUMMY)
    with pytest.raises(ValueError, match="two scripts for figure 1"):
        sj.plotting.discover_figures(scripts)


def test_default_folder_is_the_checkout_experiments():
    assert sj.plotting.experiments_dir() == REPO / "experiments"
    names = [s.name for s in sj.plotting.discover_figures()]
    assert {"fig2", "fig3"} <= set(names)
    with pytest.raises(ValueError, match="is not a folder"):
        sj.plotting.experiments_dir(REPO / "no-such-folder")


def test_packaged_copy_is_used_outside_a_checkout(scripts, tmp_path, monkeypatch):
    """An installed wheel has no <repo>/experiments but carries the scripts as
    steerjax/_experiments (pyproject's force-include)."""
    import steerjax._figures as figures

    site = tmp_path / "site-packages" / "lib"
    package = site / "steerjax"
    (package / "_experiments").mkdir(parents=True)
    (package / "_experiments" / "fig1_dummy.py").write_text(DUMMY)
    monkeypatch.setattr(figures, "_PACKAGE_DIR", package)
    assert sj.plotting.experiments_dir() == package / "_experiments"
    assert [s.name for s in sj.plotting.discover_figures()] == ["fig1"]
    (package / "_experiments" / "fig1_dummy.py").unlink()
    with pytest.raises(ValueError, match="no experiment scripts found"):
        sj.plotting.experiments_dir()


def test_selection_by_number_or_name(scripts):
    found = sj.plotting.discover_figures(scripts)
    assert [s.name for s in sj.plotting.select_figures(found, None)] == ["fig1", "fig5", "fig6", "fig7"]
    assert [s.name for s in sj.plotting.select_figures(found, ["6", "fig1", "Fig1"])] == ["fig1", "fig6"]
    assert [s.name for s in sj.plotting.select_figures(found, [5])] == ["fig5"]
    with pytest.raises(ValueError, match="no script for figure 9; available: 1, 5, 6, 7"):
        sj.plotting.select_figures(found, ["9"])
    with pytest.raises(ValueError, match="'two' is not a figure number"):
        sj.plotting.select_figures(found, ["two"])


def test_loading_checks_the_contract(scripts):
    by_name = {s.name: s for s in sj.plotting.discover_figures(scripts)}
    with pytest.raises(ValueError, match="fig7_incomplete.py: missing plot"):
        sj.plotting.load_figure_module(by_name["fig7"])
    wrong = scripts / "fig8_wrong_name.py"
    wrong.write_text(DUMMY)  # says FIGURE = "fig1"
    (script,) = [s for s in sj.plotting.discover_figures(scripts) if s.number == 8]
    with pytest.raises(ValueError, match="FIGURE = 'fig1', expected 'fig8'"):
        sj.plotting.load_figure_module(script)
    module = sj.plotting.load_figure_module(by_name["fig1"])
    assert module.TITLE == "a dummy figure"


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def test_failures_are_reported_and_the_others_still_run(scripts, tmp_path):
    out = tmp_path / "out"
    FakeBar.made = []
    started, finished = [], []
    outcomes = sj.run_figures(
        sj.plotting.discover_figures(scripts),
        out,
        quick=True,
        make_bar=FakeBar,
        on_start=lambda i, n, s: started.append((i, n, s.name)),
        on_done=lambda i, n, o: finished.append((i, o.script.name, o.ok)),
    )
    assert [(o.script.name, o.ok) for o in outcomes] == [
        ("fig1", True),
        ("fig5", False),
        ("fig6", False),
        ("fig7", False),
    ]
    assert started == [(1, 4, "fig1"), (2, 4, "fig5"), (3, 4, "fig6"), (4, 4, "fig7")]
    assert finished == [(1, "fig1", True), (2, "fig5", False), (3, "fig6", False), (4, "fig7", False)]
    ok, broken, bad, incomplete = outcomes
    assert sorted(f.name for f in ok.files) == ["fig1.csv", "fig1.json", "fig1.pdf", "fig1.png"]
    assert all(f.is_file() for f in ok.files)
    assert ok.title == "a dummy figure" and ok.error is None and ok.seconds > 0
    assert broken.error == "RuntimeError: boom" and "Traceback" in broken.details and not broken.files
    # A ValueError is a message for the user: no traceback.
    assert bad.error == "ValueError: x = 3 is outside [0, 1]" and bad.details is None
    assert "missing plot" in incomplete.error
    # One progress bar per figure that reported progress, driven to its total and closed.
    (bar,) = FakeBar.made
    assert bar.label == "[1/4] fig1" and bar.total == 3 and bar.count == 3 and bar.closed
    # quick grid sizes reached the script, and files are written atomically (no leftovers).
    assert json.loads((out / "fig1.json").read_text())["parameters"]["n"] == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_overrides_reach_the_script(scripts, tmp_path):
    (script,) = sj.plotting.select_figures(sj.plotting.discover_figures(scripts), ["1"])
    outcome = sj.plotting.run_figure(script, tmp_path, overrides={"scale": 2.5, "n": 4})
    assert outcome.ok
    assert (tmp_path / "fig1.csv").read_text().splitlines() == ["x", "0.0", "2.5", "5.0", "7.5"]
    bad = sj.plotting.run_figure(script, tmp_path, overrides={"nope": 1})
    assert not bad.ok and "unknown parameter 'nope'" in bad.error


def test_parse_override():
    assert parse_override("n_map=101") == ("n_map", 101)
    assert parse_override("theta_minus=0.3pi") == ("theta_minus", pytest.approx(0.3 * np.pi))
    assert parse_override(" C_range = 2, 1e3 ") == ("C_range", (2, 1000.0))
    assert parse_override("thermal=vacuum-server") == ("thermal", "vacuum-server")
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        parse_override("theta_minus")


def test_list_and_summary_text(scripts, tmp_path):
    found = sj.plotting.discover_figures(scripts)
    listing = sj.plotting.describe_figures(found).splitlines()
    assert listing[:3] == ["fig1  fig1_dummy.py  a dummy figure", "    n = 5", "    scale = 1.0"]
    assert sj.plotting.describe_figures([]) == "no figures"
    outcomes = sj.plotting.run_figures(found[:2], tmp_path)
    summary = sj.plotting.figures_summary(outcomes, tmp_path).splitlines()
    assert re.fullmatch(r"fig1\s+ok\s+[\d.]+ s\s+fig1\.png, fig1\.pdf, fig1\.csv, fig1\.json", summary[1])
    assert re.fullmatch(r"fig5\s+FAILED\s+[\d.]+ s\s+RuntimeError: boom", summary[2])
    assert re.fullmatch(
        rf"1 of 2 figures done in [\d.]+ s; 4 files in {re.escape(str(tmp_path))}; 1 failed", summary[3]
    )


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_cli_exit_status_summary_and_errors(scripts, tmp_path, capsys):
    out = tmp_path / "out"
    status = cli_main(["figures", "--experiments", str(scripts), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 1
    assert re.search(
        r"^fig1\s+ok\s+[\d.]+ s\s+fig1\.png, fig1\.pdf, fig1\.csv, fig1\.json$", captured.out, re.M
    )
    assert re.search(r"^fig5\s+FAILED\s+[\d.]+ s\s+RuntimeError: boom$", captured.out, re.M)
    assert "1 of 4 figures done" in captured.out and "3 failed" in captured.out
    assert "steerjax figures: error: fig5 (fig5_broken.py) failed: RuntimeError: boom" in captured.err
    assert "Traceback" in captured.err  # for the unexpected error ...
    assert "fig6 (fig6_bad_input.py) failed: ValueError: x = 3 is outside [0, 1]" in captured.err
    assert "[1/4] fig1 done in" in captured.err
    # stderr is not a terminal here: no progress bar drawn.
    assert "\r" not in captured.err

    status = cli_main(
        ["figures", "--experiments", str(scripts), "--only", "fig1", "--out", str(out), "--quiet"]
    )
    captured = capsys.readouterr()
    assert status == 0 and captured.err == ""
    assert "1 of 1 figures done" in captured.out


def test_cli_set_list_and_usage_errors(scripts, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["figures", "--experiments", str(scripts), "--out", str(out), "--quiet"]
    assert cli_main([*args, "--only", "1", "--set", "scale=3", "--set", "n=2"]) == 0
    assert (out / "fig1.csv").read_text().splitlines() == ["x", "0.0", "3.0"]
    capsys.readouterr()
    assert cli_main([*args, "--only", "1", "5", "--set", "scale=3"]) == 2
    assert "select exactly one figure with --only" in capsys.readouterr().err
    assert cli_main([*args, "--only", "9"]) == 1
    assert "no script for figure 9; available: 1, 5, 6, 7" in capsys.readouterr().err
    assert cli_main([*args, "--list", "--only", "1", "7"]) == 0
    listing = capsys.readouterr().out
    assert "fig1  fig1_dummy.py  a dummy figure" in listing and "    scale = 1.0" in listing
    assert "fig7  fig7_incomplete.py  (cannot be loaded: ValueError" in listing
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["figures", "--experiments", str(empty), "--out", str(out)]) == 1
    assert "no experiment scripts found" in capsys.readouterr().err


def test_cli_quick_figures_2_and_3_write_everything(tmp_path, capsys):
    """The real scripts through the command, --quick: PNG, PDF, NPZ, CSV and JSON per figure,
    with the metadata fields the contract promises."""
    out = tmp_path / "figs"
    assert cli_main(["figures", "--only", "2", "fig3", "--quick", "--quiet", "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "2 of 2 figures done" in summary
    for fig in ("fig2", "fig3"):
        assert (out / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{fig}.pdf").read_bytes()[:5] == b"%PDF-"
        with np.load(out / f"{fig}_maps.npz") as npz:
            assert {"E_plus_given_minus", "E_minus_given_plus", "regime"} <= set(npz.files)
            assert npz["regime"].shape[1:] == (61, 61)
        header = (out / f"{fig}_cuts.csv").read_text().splitlines()[0].split(",")
        assert {
            "E_plus_given_minus",
            "E_minus_given_plus",
            "bare_var_plus",
            "bare_var_minus",
            "regime",
        } <= set(header)
        meta = json.loads((out / f"{fig}.json").read_text())
        assert meta["figure"] == fig and meta["quick"] is True and meta["title"]
        assert meta["parameters"]["n_map"] == 61 and meta["grid"]["map"] == [61, 61]
        assert meta["steerjax_version"] == sj.__version__
        assert re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"])  # this is a git checkout
        assert meta["jax_backend"] == "cpu" and meta["jax_devices"] and meta["jax_x64"] is True
        assert meta["runtime_s"]["total"] > 0 and meta["created_utc"]
        assert sorted(meta["files"]) == sorted(p.name for p in out.iterdir() if p.name.startswith(fig))
        assert meta["results"]["cut_boundaries"]
    meta2 = json.loads((out / "fig2.json").read_text())
    (f_pos,) = [b for b in meta2["results"]["cut_boundaries"] if b["f_sign"] == "f > 0"]
    assert len(f_pos["two_way_ratio_ranges"]) == 1


def _harness():
    """The experiments' ``_harness`` module, as the figure scripts import it."""
    (script,) = [s for s in sj.plotting.discover_figures(REPO / "experiments") if s.number == 2]
    return sj.plotting.load_figure_module(script).harness


def test_scripts_import_the_harness_of_their_own_folder(scripts):
    (dummy,) = [s for s in sj.plotting.discover_figures(scripts) if s.number == 1]
    module = sj.plotting.load_figure_module(dummy)
    assert Path(module.harness.__file__).resolve() == (scripts / "_harness.py").resolve()
    assert str(scripts) not in sys.path
    real = _harness()
    assert Path(real.__file__).resolve() == REPO / "experiments" / "_harness.py"


def test_metadata_outside_a_checkout_and_small_helpers(tmp_path):
    harness = _harness()
    assert harness.git_commit(tmp_path) is None
    info = harness.environment_info(tmp_path)
    assert info["git_commit"] is None and info["steerjax_version"] == sj.__version__
    with pytest.raises(ValueError, match="unknown parameter 'b'; known: a"):
        harness.resolve_parameters("figX", {"a": 1}, {"b": 2})
    calls = []
    harness.report_progress(lambda d, t: calls.append((d, t)), 1, 2)
    harness.report_progress(None, 1, 2)
    assert calls == [(1, 2)]
    path = harness.save_arrays(tmp_path, "a", {"x": np.arange(3)})
    with np.load(path) as npz:
        np.testing.assert_array_equal(npz["x"], np.arange(3))


def test_readme_documents_the_contract():
    text = (REPO / "experiments" / "README.md").read_text()
    for word in (
        "FIGURE",
        "TITLE",
        "compute(",
        "plot(",
        "main(",
        "--quick",
        "steerjax.plotting",
        "figN.json",
    ):
        assert word in text, word
    # every figure script mentioned in the gallery exists
    for name in re.findall(r"fig\d+_\w+\.py", text):
        assert (REPO / "experiments" / name).is_file(), name


def test_figures_command_runs_in_a_fresh_process():
    """`steerjax figures --list` as a newcomer runs it: a fresh interpreter, where nothing has
    imported steerjax.plotting (matplotlib) before the command does what it needs."""
    import subprocess
    import sys

    code = "import sys, _steerjax_cli; sys.argv = ['steerjax', 'figures', '--list']; _steerjax_cli.main()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "fig4" in proc.stdout and "fig8" in proc.stdout and "fig9" in proc.stdout
