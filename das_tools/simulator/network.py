"""The camera network: ANPR sites at real TfL JamCam positions, and road-like walks between them.

A trip is a walk over the k-nearest-neighbour graph of the cameras with a persistent heading, so
vehicles move through neighbouring sites roughly in one direction, as along a road.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

from das_tools.simulator.params import SimulationConfigError

NEIGHBOURS = 8
_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
_FROM_BNG = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


@dataclass(frozen=True)
class CameraNetwork:
    camera_id: np.ndarray  # str
    name: np.ndarray  # str
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray  # BNG easting, metres
    y: np.ndarray  # BNG northing, metres
    neighbours: np.ndarray  # (n, k) camera index
    neighbour_dist: np.ndarray  # (n, k) metres
    neighbour_bearing: np.ndarray  # (n, k) radians, atan2(dy, dx)

    @property
    def size(self) -> int:
        return int(self.camera_id.size)

    def distance(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return np.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b])

    def tree(self) -> cKDTree:
        return cKDTree(np.column_stack([self.x, self.y]))


def to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _TO_BNG.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def from_bng(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _FROM_BNG.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon), np.asarray(lat)


def load_cameras(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Camera ids, names, longitudes and latitudes of the available cameras in a JamCam GeoJSON or CSV."""
    if not path.is_file():
        raise SimulationConfigError(f"cameras file {path} does not exist; pass an existing JamCam GeoJSON or CSV")
    try:
        rows = _jamcam_rows(path) if path.suffix.lower() in (".geojson", ".json") else _csv_rows(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SimulationConfigError(f"cameras file {path} could not be read: {exc}") from None
    if not rows:
        raise SimulationConfigError(
            f"cameras file {path} has no available cameras; it needs at least one camera with a position"
        )
    ids, names, lons, lats = zip(*sorted(rows), strict=True)
    return list(ids), list(names), np.array(lons, dtype=float), np.array(lats, dtype=float)


def _jamcam_rows(path: Path) -> list[tuple[str, str, float, float]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        if str(props.get("available", "true")).lower() != "true":
            continue
        url = str(props.get("imageUrl") or "")
        camera_id = url.rsplit("/", 1)[-1].rsplit(".", 1)[0] if url else str(props.get("id", ""))
        lon, lat = (feature.get("geometry") or {}).get("coordinates", (None, None))[:2]
        if camera_id and lon is not None and lat is not None:
            rows.append((camera_id, str(props.get("view") or camera_id).replace("\\/", "/"), float(lon), float(lat)))
    return rows


def _csv_rows(path: Path) -> list[tuple[str, str, float, float]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row.get("status") or "active").strip().lower() != "active":
                continue
            rows.append(
                (row["camera_id"], row.get("name") or row["camera_id"], float(row["longitude"]), float(row["latitude"]))
            )
    return rows


def build_network(path: Path, count: int | None, rng: np.random.Generator) -> CameraNetwork:
    ids, names, lon, lat = load_cameras(path)
    # Several JamCams can share one junction; keep one camera per ~20 m so walks always move.
    x, y = to_bng(lon, lat)
    _, keep = np.unique(np.round(np.column_stack([x, y]) / 20.0), axis=0, return_index=True)
    keep = np.sort(keep)
    if count is not None and count < keep.size:
        keep = np.sort(rng.choice(keep, size=count, replace=False))
    if keep.size < NEIGHBOURS + 2:
        raise SimulationConfigError(
            f"cameras file {path} has only {keep.size} distinct available cameras; at least "
            f"{NEIGHBOURS + 2} are needed to simulate traffic"
        )
    x, y = x[keep], y[keep]
    nb, dist = sector_neighbours(x, y)
    bearing = np.arctan2(y[nb] - y[:, None], x[nb] - x[:, None])
    return CameraNetwork(
        camera_id=np.array(ids)[keep],
        name=np.array(names)[keep],
        lon=lon[keep],
        lat=lat[keep],
        x=x,
        y=y,
        neighbours=nb,
        neighbour_dist=dist,
        neighbour_bearing=bearing,
    )


def sector_neighbours(
    x: np.ndarray, y: np.ndarray, candidates: int = 48, min_gap_m: float = 150.0, max_leg_m: float = 6000.0
) -> tuple[np.ndarray, np.ndarray]:
    """For each camera, the nearest camera in each of 8 compass sectors (a road leaving each way).

    Plain k-nearest neighbours trap walks in tight clusters of cameras (a junction with several
    cameras); one exit per direction lets a walk with a heading keep going. Sectors with no camera
    within ``max_leg_m`` are filled with the nearest cameras not already chosen.
    """
    points = np.column_stack([x, y])
    k = min(candidates, x.size - 1)
    dist, idx = cKDTree(points).query(points, k=k + 1)
    dist, idx = dist[:, 1:], idx[:, 1:]
    angle = np.arctan2(y[idx] - y[:, None], x[idx] - x[:, None])
    sector = np.floor((angle + np.pi) / (2 * np.pi / NEIGHBOURS)).astype(int) % NEIGHBOURS
    nb = np.empty((x.size, NEIGHBOURS), dtype=np.int64)
    nd = np.empty((x.size, NEIGHBOURS))
    for i in range(x.size):
        chosen: list[int] = []
        for s in range(NEIGHBOURS):
            hits = np.flatnonzero((sector[i] == s) & (dist[i] >= min_gap_m) & (dist[i] <= max_leg_m))
            if hits.size:
                chosen.append(int(hits[0]))
        for j in range(k):  # fill empty sectors with the nearest remaining cameras
            if len(chosen) == NEIGHBOURS:
                break
            if j not in chosen:
                chosen.append(j)
        nb[i] = idx[i, chosen]
        nd[i] = dist[i, chosen]
    return nb, nd


def random_walks(
    net: CameraNetwork, rng: np.random.Generator, start: np.ndarray, steps: int, wander: float = 0.45
) -> tuple[np.ndarray, np.ndarray]:
    """Walks of ``steps`` legs from each start camera: camera indices (n, steps+1), leg metres (n, steps).

    Each leg goes to the neighbour best aligned with the current heading (plus noise), never straight
    back; the heading turns slowly towards each leg, so walks look like drives along roads.
    """
    n = start.size
    cams = np.empty((n, steps + 1), dtype=np.int32)
    legs = np.empty((n, steps), dtype=np.float64)
    cams[:, 0] = start
    heading = rng.uniform(-np.pi, np.pi, n)
    prev = np.full(n, -1, dtype=np.int64)
    cur = start.astype(np.int64)
    rows = np.arange(n)
    for s in range(steps):
        nb = net.neighbours[cur]
        score = np.cos(net.neighbour_bearing[cur] - heading[:, None]) + rng.normal(0.0, wander, nb.shape)
        score[nb == prev[:, None]] = -np.inf
        choice = np.argmax(score, axis=1)
        nxt = nb[rows, choice]
        legs[:, s] = net.neighbour_dist[cur, choice]
        leg_bearing = net.neighbour_bearing[cur, choice]
        # Turn 35% of the way towards the leg just driven.
        heading = np.arctan2(
            0.65 * np.sin(heading) + 0.35 * np.sin(leg_bearing),
            0.65 * np.cos(heading) + 0.35 * np.cos(leg_bearing),
        )
        prev, cur = cur, nxt
        cams[:, s + 1] = cur
    return cams, legs
