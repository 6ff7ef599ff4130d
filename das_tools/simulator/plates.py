"""UK (and a few foreign) number plates, OCR-confusable canonical forms and misreads.

Every simulated vehicle gets a plate whose *canonical* form (confusable characters folded: O/D->0,
I->1, B->8, S->5, Z->2, G->6) is unique. A misread only swaps confusable characters, so it keeps the
canonical form: a misread can never become another vehicle's real plate, and a fuzzy hotlist match
can only come from the vehicle that is actually on the hotlist.
"""

from __future__ import annotations

import numpy as np

from schemas.plates import normalise_plate

# OCR confusions named in the brief. Both directions are misreads; '0' can become 'O' or 'D'.
CONFUSABLE_SWAPS: dict[str, str] = {
    "O": "0",
    "D": "0",
    "I": "1",
    "B": "8",
    "S": "5",
    "Z": "2",
    "G": "6",
    "1": "I",
    "8": "B",
    "5": "S",
    "2": "Z",
    "6": "G",
}
_ZERO_SWAPS = ("O", "D")
_CANONICAL = str.maketrans({"O": "0", "D": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6"})

_LETTERS = np.array(list("ABCDEFGHJKLMNOPRSTUVWXY"))  # no I, Q, Z in the random groups
_AREA_LETTERS = np.array(list("ABCDEFGHKLMNOPRSVWY"))
_PREFIX_LETTERS = np.array(list("ABCDEFGHJKLMNPRSTVWXY"))  # no I, O, Q, U, Z
_CURRENT_AGES = np.array([f"{y:02d}" for y in range(2, 26)] + [f"{y:02d}" for y in range(51, 76)])

PLATE_FORMATS = ("current", "suffix", "prefix", "dateless", "foreign")
_FORMAT_SHARES = (0.80, 0.08, 0.07, 0.03, 0.02)
_FOREIGN_COUNTRIES = ("FR", "DE", "IE", "NL", "PL")


def canonical(plate: str) -> str:
    """The confusable-folded form used for uniqueness (and, by the detector, for fuzzy matching)."""
    return normalise_plate(plate).translate(_CANONICAL)


def generate_plates(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> tuple[list[str], list[str]]:
    """``n`` normalised plates with unique canonical forms (also unique against ``taken``) and countries."""
    taken = set() if taken is None else taken
    plates: list[str] = []
    countries: list[str] = []
    while len(plates) < n:
        want = int((n - len(plates)) * 1.05) + 16
        batch, batch_countries = _random_plates(rng, want)
        for plate, country in zip(batch, batch_countries, strict=True):
            key = canonical(plate)
            if key in taken:
                continue
            taken.add(key)
            plates.append(plate)
            countries.append(country)
            if len(plates) == n:
                break
    return plates, countries


def _random_plates(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    kinds = rng.choice(len(PLATE_FORMATS), size=n, p=_FORMAT_SHARES)
    out = np.empty(n, dtype=object)
    countries = np.full(n, "GB", dtype=object)

    idx = np.flatnonzero(kinds == 0)  # current: AB12CDE
    if idx.size:
        area = _AREA_LETTERS[rng.integers(0, _AREA_LETTERS.size, idx.size)]
        second = _LETTERS[rng.integers(0, _LETTERS.size, idx.size)]
        age = _CURRENT_AGES[rng.integers(0, _CURRENT_AGES.size, idx.size)]
        tail = _LETTERS[rng.integers(0, _LETTERS.size, (idx.size, 3))]
        joined = np.char.add(
            np.char.add(np.char.add(area, second), age), np.char.add(np.char.add(tail[:, 0], tail[:, 1]), tail[:, 2])
        )
        out[idx] = joined.astype(object)

    for i in np.flatnonzero(kinds != 0):
        kind = PLATE_FORMATS[kinds[i]]
        digits = str(int(rng.integers(1, 1000)))
        letters = "".join(rng.choice(_LETTERS, 3))
        if kind == "suffix":  # ABC123D
            out[i] = letters + digits + str(rng.choice(_PREFIX_LETTERS))
        elif kind == "prefix":  # A123BCD
            out[i] = str(rng.choice(_PREFIX_LETTERS)) + digits + letters
        elif kind == "dateless":  # ABC 123 or 1234 AB
            if rng.random() < 0.5:
                out[i] = letters[: int(rng.integers(1, 4))] + digits
            else:
                out[i] = str(int(rng.integers(1, 10000))) + letters[:2]
        else:  # foreign, e.g. French AB123CD
            out[i] = letters[:2] + f"{int(rng.integers(0, 1000)):03d}" + letters[1:3]
            countries[i] = str(rng.choice(_FOREIGN_COUNTRIES))
    return list(out), list(countries)


def has_confusable(plate: str) -> bool:
    return any(ch in CONFUSABLE_SWAPS or ch == "0" for ch in plate)


def misread(plate: str, rng: np.random.Generator) -> str:
    """The plate with one confusable character swapped; the plate itself if it has none."""
    positions = [i for i, ch in enumerate(plate) if ch in CONFUSABLE_SWAPS or ch == "0"]
    if not positions:
        return plate
    i = positions[int(rng.integers(0, len(positions)))]
    ch = plate[i]
    swapped = _ZERO_SWAPS[int(rng.integers(0, 2))] if ch == "0" else CONFUSABLE_SWAPS[ch]
    return plate[:i] + swapped + plate[i + 1 :]


def display_form(plate: str, country: str) -> str:
    """How a plate is often printed: 'AB12 CDE' for current GB plates (normalisation strips the space)."""
    if country == "GB" and len(plate) == 7 and plate[2:4].isdigit():
        return f"{plate[:4]} {plate[4:]}"
    return plate
