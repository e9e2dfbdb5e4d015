"""Tests of file input and output (``steerjax._io``) and of ``--out`` / ``--from`` in the CLI.

Writing: a regular file is replaced atomically; a symbolic link is written through; a device
node or a FIFO is written directly and stays what it was; bad destinations are refused with one
clear line.  Reading: cells are cut only where the CSV format says so (a quoted cell may hold
line breaks and any other character), and line numbers are those of the file.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
import threading
from pathlib import Path

import pytest

from steerjax import _io
from steerjax._cli import main

DESIGN_CSV = "theta_plus,theta_minus,C_plus,C_minus\n0.4pi,0.35pi,100,50\n"
# Linux device numbers of the null and the full device (Documentation/admin-guide/devices.txt).
NULL_DEVICE, FULL_DEVICE = os.makedev(1, 3), os.makedev(1, 7)

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making device nodes needs root"
)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def evaluate_to(tmp_path: Path, out: str, capsys) -> tuple[int, str, str]:
    design = tmp_path / "design.csv"
    design.write_text(DESIGN_CSV)
    return run_cli(["evaluate", "--from", str(design), "--thermal", "hot", "--out", out, "-q"], capsys)


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder`` (hidden ``.tmp`` files)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def device(path: Path, number: int) -> Path:
    os.mknod(path, 0o666 | stat.S_IFCHR, number)
    return path


# ---------------------------------------------------------------------------------------------
# Writing: what the destination is
# ---------------------------------------------------------------------------------------------


def test_regular_file_is_replaced_whole_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    before = path.stat().st_ino
    _io.atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_ino != before  # a new file renamed into place, not rewritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_symlink_is_written_through_and_stays_a_link(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "results.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(Path("data") / "results.csv")
    code, _, err = evaluate_to(tmp_path, str(link), capsys)
    assert code == 0 and err == ""
    assert link.is_symlink() and os.readlink(link) == str(Path("data") / "results.csv")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 1 and float(rows[0]["C_plus"]) == 100.0
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "data") == []


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to("target.csv")
    _io.atomic_write_text(link, "a\n")
    assert link.is_symlink() and (tmp_path / "target.csv").read_text() == "a\n"


def test_dangling_symlink_into_a_missing_folder_is_refused(tmp_path, capsys):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "nowhere" / "target.csv")
    code, _, err = evaluate_to(tmp_path, str(link), capsys)
    assert code == 1
    assert f"cannot write --out {link}: the folder {tmp_path / 'nowhere'} does not exist" in err
    assert not (tmp_path / "nowhere").exists() and link.is_symlink()


def test_symlink_loop_is_an_error(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as info:
        _io.atomic_write_text(tmp_path / "a", "x")
    assert info.value.errno == errno.ELOOP
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    assert "Too many levels of symbolic links" in _io.output_problem(tmp_path / "a")


@needs_root
def test_null_device_is_written_to_not_replaced(tmp_path, capsys):
    node = device(tmp_path / "null", NULL_DEVICE)
    code, _, err = evaluate_to(tmp_path, str(node), capsys)
    assert code == 0 and err == ""
    info = os.lstat(node)
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == NULL_DEVICE
    assert leftovers(tmp_path) == []


@needs_root
def test_full_device_gives_one_error_line_and_status_1(tmp_path, capsys):
    node = device(tmp_path / "full", FULL_DEVICE)
    with pytest.raises(OSError) as info:
        _io.atomic_write_text(node, "x" * 10)
    assert info.value.errno == errno.ENOSPC
    code, out, err = evaluate_to(tmp_path, str(node), capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"steerjax evaluate: error: cannot write {node}: No space left on device; "
        "the output may be incomplete"
    ]
    info = os.lstat(node)
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == FULL_DEVICE


def test_fifo_is_written_to_not_replaced(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = evaluate_to(tmp_path, str(fifo), capsys)
    reader.join(timeout=30)
    assert code == 0 and err == ""
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    rows = list(csv.DictReader(io.StringIO(received[0].decode())))
    assert len(rows) == 1 and float(rows[0]["C_minus"]) == 50.0
    assert leftovers(tmp_path) == []


def test_longest_legal_name_works(tmp_path, capsys):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "r" * (limit - 4) + ".csv"
    code, _, err = evaluate_to(tmp_path, str(tmp_path / name), capsys)
    assert code == 0 and err == ""
    assert (tmp_path / name).read_text().startswith("theta_plus,")
    assert leftovers(tmp_path) == []


def test_name_over_the_limit_is_refused_before_the_work(tmp_path, capsys):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "r" * (limit + 1)
    code, _, err = evaluate_to(tmp_path, str(tmp_path / name), capsys)
    assert code == 1 and f"cannot write --out {tmp_path / name}: File name too long" in err


def test_empty_out_is_a_usage_error(tmp_path, capsys):
    code, _, err = evaluate_to(tmp_path, "", capsys)
    assert code == 2 and "--out: the file name is empty" in err
    code, _, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "10", "--out", "", "-q"], capsys)
    assert code == 2 and "--out: the file name is empty" in err
    with pytest.raises(ValueError, match="empty file name"):
        _io.atomic_write_text("", "x")


def test_out_into_a_missing_folder_is_refused_and_nothing_is_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "r.csv"
    code, _, err = evaluate_to(tmp_path, str(out), capsys)
    assert code == 1
    (line,) = [x for x in err.splitlines() if "error" in x]
    assert line == (
        f"steerjax evaluate: error: cannot write --out {out}: the folder {out.parent} does not "
        "exist (create it first); nothing was written"
    )
    code, _, err = run_cli(["optimize", "--thermal", "hot", "--c-minus", "10", "--out", str(out)], capsys)
    assert code == 1 and f"cannot write --out {out}: the folder {out.parent} does not exist" in err
    assert not (tmp_path / "new").exists()


def test_library_writers_create_folders_unless_told_not_to(tmp_path):
    _io.write_csv(tmp_path / "a" / "t.csv", {"x": [1.0]})
    assert (tmp_path / "a" / "t.csv").read_text() == "x\n1.0\n"
    with pytest.raises(FileNotFoundError):
        _io.write_csv(tmp_path / "b" / "t.csv", {"x": [1.0]}, parents=False)
    assert not (tmp_path / "b").exists()


def test_stop_request_makes_writers_refuse(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("old\n")
    _io.request_stop(2)
    try:
        with pytest.raises(KeyboardInterrupt, match="was not written"):
            _io.write_csv(path, {"x": [1.0]})
    finally:
        _io.clear_stop()
    assert path.read_text() == "old\n" and leftovers(tmp_path) == []
    _io.write_csv(path, {"x": [1.0]})  # cleared: writing works again
    assert path.read_text() == "x\n1.0\n"


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

# Characters that ``str.splitlines`` treats as line ends but CSV does not (only \n and \r do).
ODD_BREAKS = ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85"]


@pytest.mark.parametrize("char", ODD_BREAKS)
def test_cells_are_not_cut_at_unicode_line_breaks(tmp_path, char):
    path = tmp_path / "t.csv"
    path.write_text(f"a,note\n1,x{char}y\n2,z\n", encoding="utf-8", newline="")
    _, rows = _io.read_csv_cells(path)
    assert rows == [(2, ["1", f"x{char}y"]), (3, ["2", "z"])]


def test_quoted_cells_span_lines_and_rows_keep_their_first_line(tmp_path):
    text = (
        "\ufeffa,note\r\n"  # a byte-order mark and Windows line ends
        "# a comment before the first row\n"
        '1,"two\n'
        "\n"
        "# not a comment: inside the quotes\n"
        'lines, ""quoted"""\n'
        "\n"
        "2,plain\n"
        '3,"a\rb"\n'
    )
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    (header_line, header), rows = _io.read_csv_cells(path)
    assert (header_line, header) == (1, ["a", "note"])
    assert rows == [
        (3, ["1", 'two\n\n# not a comment: inside the quotes\nlines, "quoted"']),
        (8, ["2", "plain"]),
        (9, ["3", "a\rb"]),
    ]
    fieldnames, dict_rows = _io.read_csv(path)
    assert fieldnames == ["a", "note"] and [n for n, _ in dict_rows] == [3, 8, 9]


def test_unclosed_quote_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3,"4\n5,6\n')
    with pytest.raises(ValueError, match=rf"^{path}:3: a quoted cell .* is not closed"):
        _io.read_csv_cells(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,\xff\n")
    with pytest.raises(
        ValueError, match=rf"^{path}:3: not a UTF-8 text file \(invalid start byte at byte 13\)"
    ):
        _io.read_csv_cells(path)


def test_cli_keeps_multiline_cells_and_reports_bad_rows_by_file_line(tmp_path, capsys):
    design = tmp_path / "d.csv"
    design.write_text(
        "theta_plus,theta_minus,C_plus,C_minus,note\n"
        '0.4pi,0.35pi,100,50,"first\nsecond, third\u2028fourth"\n'
        "0.4pi,0.35pi,x,50,bad\n"
        '0.4pi,0.35pi,100,60,"a\x85b"\n',
        encoding="utf-8",
    )
    out = tmp_path / "r.csv"
    code, _, err = run_cli(["evaluate", "--from", str(design), "--thermal", "hot", "--out", str(out)], capsys)
    assert code == 1
    assert f"{design}:4: C_plus: " in err and "'x'" in err
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["note"] for r in rows] == ["first\nsecond, third\u2028fourth", "a\x85b"]
    assert [float(r["C_minus"]) for r in rows] == [50.0, 60.0]


def test_cli_reports_an_unclosed_quote_with_its_line_and_keeps_the_old_output(tmp_path, capsys):
    design, out = tmp_path / "d.csv", tmp_path / "r.csv"
    design.write_text(
        'theta_plus,theta_minus,C_plus,C_minus,note\n0.4pi,0.35pi,100,50,"open\n0.4pi,0.35pi,100,60,x\n'
    )
    out.write_text("old\n")
    code, _, err = run_cli(["evaluate", "--from", str(design), "--thermal", "hot", "--out", str(out)], capsys)
    assert code == 1 and f"{design}:2: a quoted cell" in err and "is not closed" in err
    assert out.read_text() == "old\n"


# ---------------------------------------------------------------------------------------------
# steerjax.io: job and design files as checked columns (the public reader of --from files)
# ---------------------------------------------------------------------------------------------


def test_read_table_keeps_good_rows_and_reports_every_bad_one(tmp_path):
    from steerjax import io as sjio

    path = tmp_path / "jobs.csv"
    path.write_text(
        "# jobs\nid,C_minus,theta_minus,direction\n"
        "a,10,0.25pi,+|-\n"
        "b,-1,pi/3,minus-given-plus\n"  # C_minus outside its domain
        "\n"
        "c,ten,1.5e-1,sideways\n"  # two bad cells: both reported
        "d,2\n"  # too few cells
    )
    columns = [
        sjio.Column("C_minus"),
        sjio.Column("theta_minus", parse=sjio.parse_angle),
        sjio.Column("direction", parse=sjio.parse_direction, numeric=False),
        sjio.Column("eps", default=0.0),  # not in the file: every row gets the default
    ]
    table = sjio.read_table(path, columns, source="jobs.csv")
    sjio.reject_out_of_domain(table, ["C_minus"])
    assert table.ok.tolist() == [True, False, False, False]
    assert table.values["theta_minus"][0] == 0.25 * 3.141592653589793
    assert table.values["direction"][0] == "plus-given-minus"
    assert table.values["eps"].tolist() == [0.0] * 4
    assert table.extra == {"id": ["a", "b", "c", "d"]}
    assert table.error_messages() == [
        "jobs.csv:4: C_minus = -1.0 is outside the allowed range (0, inf)",
        "jobs.csv:6: C_minus: 'ten' is not a number; direction: 'sideways' is not a direction; "
        "allowed: plus-given-minus, minus-given-plus",
        "jobs.csv:7: the row has 2 cells but the header has 4 columns",
    ]


def test_read_table_refuses_a_file_without_a_required_column(tmp_path):
    from steerjax import io as sjio

    path = tmp_path / "d.csv"
    path.write_text("C_plus\n1\n")
    with pytest.raises(sjio.InputError, match=r"d\.csv: missing required column C_minus \(hint\)"):
        sjio.read_table(path, [sjio.Column("C_minus", hint="hint")], source="d.csv")
    assert issubclass(sjio.InputError, ValueError)


def test_thermal_values_come_from_the_row_then_the_given_values(tmp_path):
    from steerjax import io as sjio

    path = tmp_path / "t.csv"
    path.write_text("thermal,nbar_plus\nhot,\nvacuum-server,7\n,\n")
    table = sjio.read_table(path, sjio.thermal_table_columns(), source="t.csv")
    used = sjio.resolve_thermal(table, {"nbar_minus": (3.0, "--nbar-minus")})
    assert table.values["nbar_plus"][1] == 7.0  # own cell first
    assert table.values["nbar_minus"].tolist()[:2] == [3.0, 3.0]  # a given value beats the preset
    assert used["file"] == 1 and used["--nbar-minus"] == 3
    assert table.ok.tolist() == [True, True, False]  # row 3: no preset, no values
    assert "t.csv:4: no value for gamma0_plus_hz" in table.error_messages()[0]


def test_text_forms_of_numbers_and_words():
    from steerjax import io as sjio

    assert sjio.parse_angle("pi/4") == 3.141592653589793 / 4
    assert sjio.parse_lo_phase("Optimal") is None
    assert sjio.parse_integer("1e3") == 1000
    assert sjio.parse_bool("Yes") is True and sjio.parse_coupling("SYMMETRIC") == "symmetric"
    assert sjio.format_number(0.999999999999, 10, (0.0, 1.0)) == "0.999999999999"
    for bad, parse in (("nan", sjio.parse_number), ("5_0", sjio.parse_number), ("1.5", sjio.parse_integer)):
        with pytest.raises(ValueError):
            parse(bad)
