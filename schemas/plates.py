"""Number plates (VRMs): the normalisation and the GB formats, the one place every layer takes them from.

The patterns apply to the *normalised* plate (upper case, no spaces or punctuation; see
``normalise_plate``). They are written in the regex subset shared by Python ``re`` and Java
(Spark ``rlike``), so the same string works in both.
"""

from __future__ import annotations

import re

# Current format (since 2001): two-letter memory tag, two-digit age identifier, three random
# letters, e.g. AB12CDE. DVLA never issues I or Q in it, nor Z as the first letter, so those are
# rejected: they are typical OCR confusions of 1, 0 and 2.
GB_CURRENT_PATTERN = r"[A-HJ-PR-Y][A-HJ-PR-Z][0-9]{2}[A-HJ-PR-Z]{3}"
# Prefix format (1983-2001): age letter, 1-3 digits, three letters, e.g. A123BCD.
GB_PREFIX_PATTERN = r"[A-Z][0-9]{1,3}[A-Z]{3}"
# Suffix format (1963-1983): three letters, 1-3 digits, age letter, e.g. ABC123D.
GB_SUFFIX_PATTERN = r"[A-Z]{3}[0-9]{1,3}[A-Z]"
# Dateless formats (before 1963, and Northern Ireland): 1-4 digits and 1-3 letters either way
# round, e.g. 1234AB, AB1234, ABC123, ABZ1234.
GB_DATELESS_NUMBERS_FIRST_PATTERN = r"[0-9]{1,4}[A-Z]{1,3}"
GB_DATELESS_LETTERS_FIRST_PATTERN = r"[A-Z]{1,3}[0-9]{1,4}"

GB_PLATE_FORMATS: dict[str, str] = {
    "current": GB_CURRENT_PATTERN,
    "prefix": GB_PREFIX_PATTERN,
    "suffix": GB_SUFFIX_PATTERN,
    "dateless_numbers_first": GB_DATELESS_NUMBERS_FIRST_PATTERN,
    "dateless_letters_first": GB_DATELESS_LETTERS_FIRST_PATTERN,
}

# Anchored alternation of every format: use with Spark ``rlike`` (which finds, so anchors matter)
# or Python ``re.fullmatch``.
GB_PLATE_PATTERN = "^(?:" + "|".join(GB_PLATE_FORMATS.values()) + ")$"
GB_PLATE_REGEX = re.compile(GB_PLATE_PATTERN)

# What normalisation removes from a plate before upper-casing it: everything but ASCII letters and digits.
# The one definition: Python here, Spark in conform (``regexp_replace``) and PostgreSQL in
# ``das.normalise_plate`` (a golden test compares the migration with it).
PLATE_NOISE_PATTERN = "[^A-Za-z0-9]"
_PLATE_NOISE = re.compile(PLATE_NOISE_PATTERN)


def normalise_plate(raw: str) -> str:
    """Letters and digits only, upper case: ``"ab12 cde"`` -> ``"AB12CDE"``."""
    return _PLATE_NOISE.sub("", raw).upper()


def is_valid_gb_plate(plate: str | None) -> bool:
    """True when an already-normalised plate has a GB format. Normalise first: ``"AB12 CDE"`` is False."""
    return plate is not None and GB_PLATE_REGEX.fullmatch(plate) is not None


def gb_plate_format(plate: str | None) -> str | None:
    """The name of the GB format a normalised plate has (``"current"``, ``"prefix"``...), or None."""
    if plate is None:
        return None
    for name, pattern in GB_PLATE_FORMATS.items():
        if re.fullmatch(pattern, plate):
            return name
    return None
