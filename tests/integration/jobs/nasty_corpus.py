"""A deterministic corpus of nasty landing files: garbage, broken compression, hostile JSON, awkward CSV.

``write_corpus`` lays out ``<root>/{cameras,hotlist,crimes,anpr}/`` with at least ``files`` files (plus one good
camera file so reads can be located) and returns how many files it wrote per source. Layouts are drawn from a few
headers, so the run groups them into few Spark jobs.
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Plausible reads happened recently (older ones would be beyond retention).
RECENT = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0).isoformat().replace("+00:00", "Z")

CELLS = [
    "",
    " ",
    "AB12 CDE",
    "Ä1",
    "ab-12-cd",
    '"quoted"',
    "line\nbreak",
    "tab\there",
    "💥",
    "\u202e",
    "0",
    "-0.12",
    "51.5",
    "999999999999999999999999",
    "NaN",
    RECENT,
    "2024-13-45T25:61:00Z",
    "null",
    "CAM1",
    "x" * 300,
    "'; DROP TABLE das.anpr_reads; --",
    "../../etc/passwd",
]
ANPR_HEADERS = [
    "read_id,camera_id,plate,read_at",
    "read_id,camera_id,plate,read_at,confidence,country",
    "read_id;camera_id;plate;read_at",
    "Read ID,Camera ID,Plate,Read At",
    "read_id,camera_id,plate",  # a required field missing
    "id,cam,vrm,when",  # no format at all
]
HOTLIST_HEADERS = ["plate,list_name,priority", "plate,list_name,priority,valid_from,valid_to"]


def _csv_field(rng: random.Random) -> str:
    value = rng.choice(CELLS)
    if any(c in value for c in ',;\n"') or rng.random() < 0.2:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv(rng: random.Random, header: str, rows: int) -> bytes:
    width = header.count(",") + header.count(";") + 1
    delimiter = ";" if ";" in header else ","
    lines = [header]
    for n in range(rows):
        count = width if rng.random() > 0.1 else rng.randint(0, width + 2)  # some rows of the wrong width
        fields = [_csv_field(rng) for _ in range(count)]
        if rng.random() < 0.5 and count >= 4:  # often a plausible read, so some rows get through
            fields[:4] = [
                f"n{rng.randint(0, 10_000)}",
                "CAM1",
                rng.choice(["AB12CDE", "XY99ZZZ", "Ä1"]),
                RECENT,
            ]
        lines.append(delimiter.join(fields))
        if n == 0 and rng.random() < 0.1:
            lines.append("")
    return ("\n".join(lines) + ("\n" if rng.random() < 0.8 else "")).encode("utf-8")


def _garbage(rng: random.Random) -> tuple[str, bytes]:
    kind = rng.randrange(9)
    if kind == 0:
        return "bin.csv", bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    if kind == 1:
        good = gzip.compress(f"read_id,camera_id,plate,read_at\nr,CAM1,AB12CDE,{RECENT}\n".encode() * 50)
        cut = rng.randint(5, len(good) - 1)
        return "cut.csv.gz", good[:cut] + bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
    if kind == 2:
        depth = rng.choice([50, 5000, 100_000])
        return "deep.jsonl", (b'{"a": ' * depth + b"1" + b"}" * depth + b"\n")
    if kind == 3:
        return "big.json", b'[{"read_id": "b", "n": 1' + b"0" * 5000 + b"}]"
    if kind == 4:
        return "empty.csv", b"" if rng.random() < 0.5 else b"\n\n"
    if kind == 5:
        return "bad.json", b'{"type": "FeatureCollection", "features": {"oops": 1}}'
    if kind == 6:
        return "trunc.jsonl", b'{"read_id": "t1", "camera_id": "CAM1"}\n{"read_id": "t2", "cam'
    if kind == 7:
        return "bom.csv", b"\xef\xbb\xbf" + _csv(rng, ANPR_HEADERS[0], rng.randint(0, 5))
    return "latin.csv", _csv(rng, ANPR_HEADERS[1], 3).decode("utf-8", "replace").encode("latin-1", "replace")


def _jsonl(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.6:
            record = {
                "read_id": f"j{rng.randint(0, 10_000)}",
                "camera_id": "CAM1",
                "plate": rng.choice(CELLS),
                "read_at": rng.choice(CELLS),
            }
            lines.append(json.dumps(record))
        elif choice < 0.8:
            lines.append(json.dumps(rng.choice([[1, 2], "text", 3, None])))
        else:
            lines.append('{"read_id": ' + rng.choice(['"x"', "[", "{{", "1e99999"]))
    return ("\n".join(lines) + "\n").encode()


def write_corpus(root: Path, files: int = 1000, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    written = {"cameras": 0, "hotlist": 0, "crimes": 0, "anpr": 0}
    for source in written:
        (root / source).mkdir(parents=True, exist_ok=True)
    (root / "cameras" / "cams.csv").write_text("camera_id,longitude,latitude\nCAM1,-0.1276,51.5072\n")
    written["cameras"] += 1
    (root / "cameras" / "broken.mapping.yaml").write_text("fields: [unclosed\n")
    written["cameras"] += 1
    geojson = {"type": "FeatureCollection", "features": [{"geometry": "POINT(0 0)", "properties": {"id": 1}}]}
    (root / "cameras" / "string-geometry.geojson").write_text(json.dumps(geojson))
    written["cameras"] += 1
    for n in range(files):
        roll = rng.random()
        if roll < 0.35:
            name, content = _garbage(rng)
            source = "anpr"
        elif roll < 0.75:
            name, content, source = "reads.csv", _csv(rng, rng.choice(ANPR_HEADERS), rng.randint(0, 12)), "anpr"
        elif roll < 0.9:
            name, content, source = "reads.jsonl", _jsonl(rng), "anpr"
        elif roll < 0.95:
            name, content, source = "list.csv", _csv(rng, rng.choice(HOTLIST_HEADERS), rng.randint(0, 6)), "hotlist"
        else:
            header = "crime_id,crime_type,occurred_from,longitude,latitude"
            name, content, source = "incidents.csv", _csv(rng, header, rng.randint(0, 6)), "crimes"
        (root / source / f"{n:04d}-{name}").write_bytes(content)
        written[source] += 1
    return written
