"""A large landing file streams through the parser with bounded memory: peak memory does not grow with file size."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROW = "r{0},00001.0{1:04d},AB{2:02d}CDE,2024-04-01T10:{3:02d}:{3:02d}Z,0.{2:02d},GB,N,1\n"


def _write_csv(path: Path, target_bytes: int) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("read_id,camera_id,plate,read_at,confidence,country,direction,lane\n")
        while handle.tell() < target_bytes:
            chunk = [ROW.format(rows + i, (rows + i) % 900, (rows + i) % 100, (rows + i) % 60) for i in range(50_000)]
            handle.write("".join(chunk))
            rows += len(chunk)
    return rows


def _parse_peak(folder: Path, out: Path) -> tuple[int, int]:
    """Parse in a fresh process (Arrow's high-water mark cannot be reset) -> (rows parsed, peak Arrow bytes)."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        import pyarrow as pa
        from jobs.ingest.landing import discover
        from jobs.ingest.parsing import parse_file
        [landed] = discover("anpr", Path({str(folder)!r}))
        parsed = parse_file(landed, Path({str(out)!r}))
        assert parsed.file_error is None and parsed.malformed_count == 0
        print(parsed.rows_parsed, pa.default_memory_pool().max_memory())
        """
    )
    script_file = out.parent / f"parse_{folder.name}.py"
    script_file.write_text(script)
    done = subprocess.run(
        [sys.executable, str(script_file)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(Path(__file__).resolve().parents[4]),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows, peak = done.stdout.split()[-2:]
    return int(rows), int(peak)


def test_parser_memory_does_not_grow_with_file_size(tmp_path: Path) -> None:
    peaks = {}
    for name, size in (("small", 40 * 2**20), ("large", 160 * 2**20)):
        folder = tmp_path / name / "anpr"
        folder.mkdir(parents=True)
        rows = _write_csv(folder / f"{name}.csv", size)
        parsed_rows, peaks[name] = _parse_peak(folder, tmp_path / name / "out")
        assert parsed_rows == rows
        (folder / f"{name}.csv").unlink()
    # A file four times larger must not need (anywhere near) four times the memory.
    assert peaks["large"] < 1.5 * peaks["small"] + 16 * 2**20, peaks
    assert peaks["large"] < 160 * 2**20, peaks
