"""`manage.py import_data` (reports/management/commands/import_data.py): a Trail export
imported through the embedded job runner to the end; a bad file exits with the reason
(file, line, column) and keeps nothing; a bad source or a missing file is refused."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from events.clickhouse import get_client
from reports import raw_export
from sites.models import Site
from tests.reports.conftest import hit

EMBEDDED_ONLY = pytest.mark.skipif(
    settings.TRAIL.services_mode, reason="the embedded runner (services mode runs Celery)"
)
DAY = dt.datetime.now(dt.UTC).replace(hour=8, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=1
)


def events_of(site: Site) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.pk}
    )
    return int(found[0]["n"])


@EMBEDDED_ONLY
@pytest.mark.django_db(transaction=True)
def test_import_data_runs_an_import_to_the_end_and_reports_bad_files(
    make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path
) -> None:
    original = make_site("imports-cli-original.example.com")
    seed(original, [hit(original, DAY, "/", ip="192.0.2.40"), hit(original, DAY, "/x")])
    day = DAY.date().isoformat()
    request = raw_export.parse_request(original, date_range=[day, day], format="csv", filters=[])
    path = tmp_path / "trail.csv"
    path.write_bytes(b"".join(raw_export.stream(request)))
    copy = make_site("imports-cli-copy.example.com")
    out = io.StringIO()
    call_command("import_data", "--site", copy.domain, "--source", "trail", str(path), stdout=out)
    assert "2 rows imported" in out.getvalue() and events_of(copy) == 2

    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("event_id", "id", 1))
    other = make_site("imports-cli-bad.example.com")
    with pytest.raises(CommandError, match="bad.csv, line 1, column event_id"):
        call_command("import_data", "--site", other.domain, "--source", "trail", str(bad))
    assert events_of(other) == 0


@pytest.mark.django_db
def test_import_data_refuses_a_bad_source_and_a_missing_file(
    make_site: Callable[..., Site], tmp_path: Path
) -> None:
    site = make_site("imports-cli-refused.example.com")
    path = tmp_path / "x.ndjson"
    path.write_text("{}\n")
    with pytest.raises(CommandError, match="--source"):
        call_command("import_data", "--site", site.domain, "--source", "matomo", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_data", "--site", site.domain, "--source", "trail", "/nonexistent")
    with pytest.raises(CommandError, match="--site"):
        call_command("import_data", "--site", "nowhere.example", "--source", "trail", str(path))
