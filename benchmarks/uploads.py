"""XLSX reading for uploads: python-calamine against openpyxl (read-only), same workbooks, same run.

    .venv/bin/python benchmarks/uploads.py [--rows 80000] [--cols 35]

Each reader runs in its own child process (so its peak memory, ru_maxrss, is its own) over the same
workbook, written once with xlsxwriter: a big one (an intake of a region: rows x cols of scores plus an
id column) and a small one (a catalogue import). Prints seconds, peak RSS and the ratio to openpyxl;
then the safety cases: a 1.6 KB workbook declaring A1:XFD1048576, one with a far cell (XFD1048576),
one with a sparse far row, each read by both libraries with an address-space limit, and by kit.uploads.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

READERS = ("openpyxl", "calamine", "kit.uploads")


def write_workbook(path: Path, rows: int, cols: int) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("results")
    ws.write_row(0, 0, ["external_id", "ФИО", *[f"Q{i}" for i in range(1, cols - 1)]])
    for r in range(1, rows + 1):
        ws.write_row(r, 0, [f"t-{r:06d}", f"Педагог {r}", *[(r * 7 + c) % 4 for c in range(cols - 2)]])
    wb.close()


def read_once(reader: str, path: Path) -> tuple[int, int]:
    """Read every row of the first sheet; return (rows, cells)."""
    rows = cells = 0
    if reader == "openpyxl":
        import openpyxl

        with open(path, "rb") as fh:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                it = wb.worksheets[0].iter_rows(values_only=True)
                width = len(next(it))
                for values in wb.worksheets[0].iter_rows(min_row=2, max_col=width, values_only=True):
                    rows += 1
                    cells += len(values)
            finally:
                wb.close()
    elif reader == "calamine":
        import python_calamine

        wb = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            for values in wb.get_sheet_by_index(0).iter_rows():
                rows += 1
                cells += len(values)
        finally:
            wb.close()
        rows -= 1
    else:
        from kit.uploads import UploadLimits, read_rows

        with read_rows(path, "xlsx", UploadLimits(max_uncompressed=1 << 30, max_ratio=1000.0)) as table:
            for _, values in table.rows:
                rows += 1
                cells += len(values)
    return rows, cells


def child(reader: str, path: str) -> None:
    # Import first: the time is the reading's, not the interpreter loading a library.
    __import__({"openpyxl": "openpyxl", "calamine": "python_calamine"}.get(reader, "kit.uploads"))
    if reader == "kit.uploads":
        __import__("openpyxl")
    start = time.perf_counter()
    try:
        rows, cells = read_once(reader, Path(path))
        outcome = f"{rows} rows, {cells} cells"
    except Exception as e:  # a refusal is an outcome here
        outcome = f"refused: {type(e).__name__}: {getattr(e, 'code', '')} {str(e)[:60]}"
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.3f}\t{peak_mb:.0f}\t{outcome}")


def run(reader: str, path: Path, address_space_mb: int | None = None) -> tuple[float, float, str]:
    def limit() -> None:
        if address_space_mb:
            resource.setrlimit(resource.RLIMIT_AS, (address_space_mb << 20, address_space_mb << 20))

    p = subprocess.run(
        [sys.executable, __file__, "--child", reader, str(path)],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=600,
    )
    if p.returncode != 0:
        return float("nan"), float("nan"), f"process died (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]}"
    seconds, peak, outcome = p.stdout.strip().splitlines()[-1].split("\t")
    return float(seconds), float(peak), outcome


def crafted(path: Path, sheet_data: str, dimension: str) -> None:
    """A minimal workbook whose one sheet holds `sheet_data` and declares `dimension`."""
    ns = "http://schemas.openxmlformats.org/"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ns}package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}spreadsheetml/2006/main" '
        f'xmlns:r="{ns}officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
        f"</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{ns}package/2006/relationships"><Relationship '
        f'Id="rId1" Type="{ns}officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        f"</Relationships>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{ns}spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)


HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row>'
)
SAFETY_CASES = {
    "declared A1:XFD1048576, 2 rows": (HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></c></row>', "A1:XFD1048576"),
    "one far cell XFD1048576": (
        HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>7</v></c></row>',
        "A1:XFD1048576",
    ),
    "sparse: XFD2 and row 900000": (
        HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></c><c r="XFD2"><v>7</v></c></row>'
        '<row r="900000"><c r="A900000"><v>3</v></c></row>',
        "A1:B2",
    ),
}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=80_000)
    ap.add_argument("--cols", type=int, default=35)
    ap.add_argument("--readers", default=",".join(READERS))
    args = ap.parse_args()
    readers = args.readers.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for label, rows, cols in (("big", args.rows, args.cols), ("small", 200, 12)):
            path = Path(tmp) / f"{label}.xlsx"
            write_workbook(path, rows, cols)
            print(f"\n{label}: {rows} rows x {cols} columns, {path.stat().st_size / 1e6:.1f} MB")
            print(f"{'reader':<12} {'seconds':>8} {'peak MB':>8} {'x openpyxl':>10}  outcome")
            base: float | None = None
            for reader in readers:
                seconds, peak, outcome = run(reader, path)
                base = seconds if reader == "openpyxl" else base
                ratio = f"{seconds / base:.2f}" if base else "-"
                print(f"{reader:<12} {seconds:>8.3f} {peak:>8.0f} {ratio:>10}  {outcome}")
        print("\nsafety (address space limited to 2 GB):")
        for case, (data, dimension) in SAFETY_CASES.items():
            path = Path(tmp) / "crafted.xlsx"
            crafted(path, data, dimension)
            for reader in readers:
                seconds, peak, outcome = run(reader, path, address_space_mb=2048)
                print(f"  {case:<32} {reader:<12} {seconds:>7.3f}s {peak:>6.0f} MB  {outcome}")


if __name__ == "__main__":
    main()
