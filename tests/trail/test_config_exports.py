"""The export files' settings (trail/config.py): where they go and how long they stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from trail.config import ConfigError, load


def test_by_default_exports_stay_a_week_in_a_private_directory_of_var(tmp_path: Path) -> None:
    config = load({"TRAIL_VAR_DIR": str(tmp_path)})
    assert config.export_ttl_days == 7
    assert config.exports_storage == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(tmp_path.resolve() / "exports"),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


def test_a_directory_a_lifetime_or_another_storage_backend(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    moved = load(
        {**env, "TRAIL_EXPORT_DIR": str(tmp_path / "shared"), "TRAIL_EXPORT_TTL_DAYS": "2"}
    )
    assert moved.exports_storage["OPTIONS"]["location"] == str(tmp_path.resolve() / "shared")  # type: ignore[index]
    assert moved.export_ttl_days == 2
    bucket = load(
        {
            **env,
            "TRAIL_EXPORT_STORAGE": "storages.backends.s3.S3Storage",
            "TRAIL_EXPORT_STORAGE_OPTIONS": '{"bucket_name": "exports"}',
        }
    )
    assert bucket.exports_storage == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "exports"},
    }


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"TRAIL_EXPORT_TTL_DAYS": "0"}, "TRAIL_EXPORT_TTL_DAYS"),
        ({"TRAIL_EXPORT_TTL_DAYS": "a week"}, "TRAIL_EXPORT_TTL_DAYS"),
        ({"TRAIL_EXPORT_STORAGE": "s3; rm -rf /"}, "TRAIL_EXPORT_STORAGE"),
        ({"TRAIL_EXPORT_STORAGE_OPTIONS": "{}"}, "TRAIL_EXPORT_STORAGE_OPTIONS"),
        (
            {"TRAIL_EXPORT_STORAGE": "storages.backends.s3.S3Storage",
             "TRAIL_EXPORT_STORAGE_OPTIONS": "{bucket"},
            "TRAIL_EXPORT_STORAGE_OPTIONS",
        ),
        (
            {"TRAIL_EXPORT_STORAGE": "storages.backends.s3.S3Storage",
             "TRAIL_EXPORT_STORAGE_OPTIONS": "[1]"},
            "TRAIL_EXPORT_STORAGE_OPTIONS",
        ),
    ],
)  # fmt: skip
def test_bad_values_name_the_variable(
    tmp_path: Path, changes: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load({"TRAIL_VAR_DIR": str(tmp_path), **changes})
