"""The OpenAPI fuzzer on Umami's website endpoints, aimed at a real website id.

`tests/api/test_schema_fuzz.py` fuzzes every operation, but its world names no website id,
so there the `/api/websites/{website_id}/…` operations only reach the 404. Here the same
fuzzer and checks (no server error, every answer as the schema documents it) run with the
fuzz site's public id in the path, so the generated query parameters reach the
translation and the reports engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from sites.models import Site
from tests.api.test_schema_fuzz import (  # noqa: F401 (fixtures, used by name)
    CHECKS,
    DOMAIN,
    FUZZ_EXAMPLES,
    _keep_the_test_connection,
    fuzz_world,
    schema,
)

umami = schema.include(path_regex=r"^/api/websites/\{website_id\}")


@pytest.mark.django_db
@umami.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_umami_websites_answer_as_their_schema_says(
    case: Any,
    fuzz_world: dict[str, str],  # noqa: F811 (the imported fixture)
) -> None:
    site = Site.objects.get(domain=DOMAIN, deleted_at__isnull=True)
    case.path_parameters["website_id"] = str(site.public_id)
    headers = {"Authorization": f"Bearer {fuzz_world['raw']}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
