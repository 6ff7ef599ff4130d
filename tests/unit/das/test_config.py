"""Settings: one typed object from DAS_* variables; bad values fail with a message naming the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from das.config import GREATER_LONDON_BBOX, Settings


def test_defaults_need_no_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    assert settings.region_bbox == GREATER_LONDON_BBOX
    assert settings.lake == str(tmp_path.resolve() / "lake")
    assert settings.uses_local_postgres


def test_nested_detector_parameters_and_the_bbox_come_from_the_environment(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAS_CONVOY__MIN_TOGETHER", "0.7")
    monkeypatch.setenv("DAS_REGION_BBOX", "-1,51,1,52")
    settings = Settings(home=tmp_path)
    assert settings.convoy.min_together == 0.7
    assert settings.region_bbox == (-1.0, 51.0, 1.0, 52.0)


@pytest.mark.parametrize(
    ("value", "message"), [("1,2,3", "min_lon,min_lat,max_lon,max_lat"), ("1,51,0,52", "min >= max")]
)
def test_a_bad_bbox_names_the_expected_form(monkeypatch, tmp_path, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAS_REGION_BBOX", value)
    with pytest.raises(ValidationError, match=message):
        Settings(home=tmp_path)
