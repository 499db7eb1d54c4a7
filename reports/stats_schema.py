"""The Stats API's request and response as OpenAPI schemas (`POST /api/v2/query`).

Documentation only: `reports/parse.py` checks a body and `reports/stats.py` answers it;
the names listed here come from the same tuples (`reports.query`, `reports.dates`), so a
new metric or dimension shows up in the docs by itself.
"""

from __future__ import annotations

from typing import Any

from reports.dates import NAMED
from reports.parse import COMPARISONS, INCLUDE, MAX_LIMIT
from reports.query import (
    BEHAVIORAL,
    EVENT_DIMENSIONS,
    LOGICAL,
    METRICS,
    OPERATORS,
    PROPS_PREFIX,
    TIME_DIMENSIONS,
    VISIT_DIMENSIONS,
)

DATE_RANGE: dict[str, Any] = {
    "description": f"one of {', '.join(NAMED)}, or two ISO dates (or date-times)"
    ' ["2026-01-01", "2026-01-31"], in the site\'s time zone; date-times such as'
    ' ["2026-01-01T12:00:00+02:00", "2026-01-01T15:59:59+02:00"] count to the second, the'
    " last one included",
    "oneOf": [
        {"type": "string", "enum": list(NAMED)},
        {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
    ],
}
DIMENSION: dict[str, Any] = {
    "type": "string",
    "description": "one of "
    + ", ".join((*EVENT_DIMENSIONS, *VISIT_DIMENSIONS, *TIME_DIMENSIONS))
    + f", or {PROPS_PREFIX}<name> (a custom property)",
    "example": "event:page",
}
FILTER: dict[str, Any] = {
    "type": "array",
    "description": f"[operator, dimension, [values]] with an operator of {', '.join(OPERATORS)};"
    f" or [{' | '.join(repr(op) for op in LOGICAL if op != 'not')}, [filters]], ['not', filter],"
    f" [{' | '.join(repr(op) for op in BEHAVIORAL)}, filter on event dimensions]",
    "items": {},
    "example": ["is", "visit:country", ["DE", "FR"]],
}
MONEY: dict[str, Any] = {
    "type": "object",
    "description": "a revenue metric, in the goal's currency",
    "properties": {
        "short": {"type": "string", "example": "€9.5"},
        "long": {"type": "string", "example": "€9.50"},
        "value": {"type": "number", "example": 9.5},
        "currency": {"type": "string", "example": "EUR"},
    },
}
METRIC_VALUES: dict[str, Any] = {
    "type": "array",
    "description": "one value per requested metric, in the order asked: a number, or for"
    " total_revenue and average_revenue a money object (null without a revenue goal filter)",
    "items": {"oneOf": [{"type": "number"}, MONEY], "nullable": True},
}
DIMENSION_VALUES: dict[str, Any] = {
    "type": "array",
    "description": "one value per requested dimension, in the order asked",
    "items": {"type": "string"},
}

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["site_id", "metrics", "date_range"],
    "additionalProperties": False,
    "properties": {
        "site_id": {"type": "string", "description": "the site's domain"},
        "metrics": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": [*METRICS, "group_conversion_rate"]},
        },
        "date_range": DATE_RANGE,
        "dimensions": {"type": "array", "items": DIMENSION},
        "filters": {"type": "array", "items": FILTER},
        "order_by": {
            "type": "array",
            "description": '[metric or dimension, "asc" | "desc"] pairs',
            "items": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": 2,
            },
            "example": [["visitors", "desc"]],
        },
        "include": {
            "type": "object",
            "description": f"extras: {', '.join(sorted(INCLUDE))}",
            "properties": {
                "time_labels": {
                    "type": "boolean",
                    "description": "every time bucket in meta.time_labels; needs a time dimension",
                },
                "imports": {"type": "boolean"},
                "total_rows": {
                    "type": "boolean",
                    "description": "the number of rows over every page in meta.total_rows",
                },
                "comparisons": {
                    "type": "object",
                    "required": ["mode"],
                    "properties": {
                        "mode": {"type": "string", "enum": list(COMPARISONS)},
                        "date_range": {
                            **DATE_RANGE,
                            "description": 'for mode "custom": two ISO dates',
                        },
                    },
                },
            },
        },
        "pagination": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                "offset": {"type": "integer", "minimum": 0},
            },
        },
        "sampling": {
            "description": '"auto" (default), "exact" or a fraction from 0.01 to 1',
            "oneOf": [{"type": "string", "enum": ["auto", "exact"]}, {"type": "number"}],
        },
        "timezone": {
            "type": "string",
            "description": "an IANA time zone; the site's by default",
        },
    },
}

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["results", "meta", "query"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metrics", "dimensions"],
                "properties": {
                    "metrics": METRIC_VALUES,
                    "dimensions": DIMENSION_VALUES,
                    "comparison": {
                        "type": "object",
                        "description": "with include.comparisons: the same row in the"
                        " compared period",
                        "properties": {
                            "metrics": METRIC_VALUES,
                            "dimensions": DIMENSION_VALUES,
                            "change": {
                                "type": "array",
                                "description": "change per metric: a percentage, or points"
                                " for rates; null where there is nothing to compare",
                                "items": {"type": "number", "nullable": True},
                            },
                        },
                    },
                },
            },
        },
        "meta": {
            "type": "object",
            "properties": {
                "imports_included": {"type": "boolean"},
                "imports_skip_reason": {
                    "type": "string",
                    "enum": ["no_imported_data", "out_of_range", "unsupported_query"],
                },
                "imports_warning": {"type": "string"},
                "sampled": {"type": "boolean"},
                "sample_fraction": {"type": "number", "nullable": True},
                "sampled_metrics": {"type": "array", "items": {"type": "string"}},
                "ranked_on_sample": {"type": "number"},
                "source": {
                    "type": "string",
                    "enum": ["rollup", "events"],
                    "description": "answered from the hourly rollups or from raw events",
                },
                "estimated": {"type": "boolean"},
                "warning": {
                    "type": "string",
                    "description": "the report needs raw events the site's retention dropped",
                },
                "time_labels": {"type": "array", "items": {"type": "string"}},
                "total_rows": {"type": "integer"},
                "comparison_date_range": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
        "query": {
            "type": "object",
            "description": "the request as understood, with defaults filled in",
            "additionalProperties": True,
        },
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "example": "metrics[0]: unknown metric 'x'"}},
}
