"""A site's Alerts page (docs/alerts.md): its rules with their state and last value, a form
to add one (the "Traffic spike" and "Traffic drop" presets fill it in), delete, "Send
test" (htmx: the result replaces the button's cell), and the recent firings with their
deliveries' status.

The rules are those of the API (`alerts.rules`): members see the page, owners and admins
change it (viewers 403), another organization's site is 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.errors import NotFound, ServiceError
from alerts import evaluate, rules
from alerts.messages import describe_condition, what
from alerts.models import AlertFiring, AlertRule
from frontend.views.helpers import posted_id, user_of
from notify.models import Delivery
from sites import selectors
from sites.models import Site

FIRINGS_SHOWN = 20
UNITS = (("m", "minutes"), ("h", "hours"), ("d", "days"))
# The filter the form offers (one row): the Stats API's dimension by name.
FILTERS = (
    ("", "—"),
    ("event:page", "Page is"),
    ("event:name", "Event name is"),
    ("visit:source", "Source is"),
    ("visit:country", "Country (code) is"),
)
FORM_FIELDS = (
    "name",
    "metric",
    "goal",
    "window_count",
    "window_unit",
    "condition",
    "threshold",
    "cooldown",
    "filter_dimension",
    "filter_value",
    "email",
    "webhook_url",
    "webhook_secret",
    "webhook_format",
)

# The fields whose errors the template shows beside them.
SHOWN_INLINE = frozenset(
    {
        "name",
        "metric",
        "goal",
        "window_count",
        "condition",
        "threshold",
        "cooldown",
        "filter_value",
        "email",
        "webhook_url",
    }
)


def _preset_values(name: str) -> dict[str, str]:
    preset = rules.PRESETS.get(name)
    if preset is None:
        return {}
    window = str(preset["window"])
    return {
        "name": str(preset["name"]),
        "metric": str(preset["metric"]),
        "window_count": window[:-1],
        "window_unit": window[-1],
        "condition": str(preset["condition"]),
        "threshold": f"{preset['threshold']:g}",
        "cooldown": str(preset["cooldown"]),
    }


DEFAULTS = {
    "metric": "visitors",
    "window_count": "5",
    "window_unit": "m",
    "condition": "above",
    "cooldown": str(rules.DEFAULT_COOLDOWN),
    "webhook_format": "json",
}


def _number(text: str, field: str, *, whole: bool = False) -> float | int:
    try:
        return int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ServiceError(f"expected {kind}", field=field) from None


def body_from_form(form: QueryDict) -> dict[str, Any]:
    """The form's fields as the API's body (the same checks then apply)."""
    get = lambda name: form.get(name, "").strip()  # noqa: E731
    body: dict[str, Any] = {
        "name": get("name"),
        "metric": get("metric"),
        "window": f"{get('window_count')}{get('window_unit')}",
        "condition": get("condition"),
        "threshold": _number(get("threshold"), "threshold"),
        "filters": [],
        "channels": [],
    }
    if get("cooldown"):
        body["cooldown"] = _number(get("cooldown"), "cooldown", whole=True)
    if body["metric"] in rules.GOAL_METRICS:
        goal = get("goal")
        body["goal"] = int(goal) if goal.isascii() and goal.isdigit() else goal
    dimension, value = get("filter_dimension"), form.get("filter_value", "")
    if dimension and value:
        body["filters"] = [["is", dimension, [value]]]
    if get("email"):
        body["channels"].append({"type": "email", "to": get("email")})
    if get("webhook_url"):
        hook = {"type": "webhook", "url": get("webhook_url"), "format": get("webhook_format")}
        if form.get("webhook_secret", ""):
            hook["secret"] = form.get("webhook_secret", "")
        body["channels"].append(hook)
    return body


def _row(rule: AlertRule) -> dict[str, Any]:
    return {
        "rule": rule,
        "what": what(rule),
        "condition": describe_condition(rule),
        "channels": [rules.notify_channels.redact(spec) for spec in rule.channels],
    }


def _firings(site: Site) -> list[dict[str, Any]]:
    firings = list(
        AlertFiring.objects.filter(rule__site=site)
        .select_related("rule")
        .order_by("-at", "-pk")[:FIRINGS_SHOWN]
    )
    ids = {pk for firing in firings for pk in firing.deliveries}
    found = {str(d.pk): d for d in Delivery.objects.filter(pk__in=ids)} if ids else {}
    return [
        {
            "firing": firing,
            "deliveries": [found[pk] for pk in firing.deliveries if pk in found],
        }
        for firing in firings
    ]


def _page(
    request: HttpRequest, site: Site, *, values: dict[str, str], errors: dict[str, str]
) -> HttpResponse:
    found = AlertRule.objects.filter(site=site).select_related("site").order_by("pk")
    context = {
        "site": site,
        "rows": [_row(rule) for rule in found],
        "firings": _firings(site),
        "values": values,
        "errors": errors,
        "metrics": AlertRule.Metric.choices,
        "conditions": AlertRule.Condition.choices,
        "units": UNITS,
        "filters": FILTERS,
        "goals": list(site.goals.order_by("display_name")),
        "presets": [(key, preset["name"]) for key, preset in rules.PRESETS.items()],
        "goal_metrics": sorted(rules.GOAL_METRICS),
    }
    return render(request, "frontend/site_alerts.html", context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def site_alerts(request: HttpRequest, domain: str) -> HttpResponse:
    write = request.method == "POST"
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=write)
    if not write:
        values = {**DEFAULTS, **_preset_values(request.GET.get("preset", ""))}
        return _page(request, site, values=values, errors={})
    try:
        if "delete" in request.POST:
            rule = rules.rule_get(site=site, rule_id=posted_id(request, "delete", "alert"))
            rule.delete()
            messages.success(request, f"Alert “{rule.name}” deleted.")
        else:
            rule = rules.rule_create(site=site, body=body_from_form(request.POST))
            messages.success(request, f"Alert “{rule.name}” added.")
    except NotFound:
        messages.error(request, "No such alert.")
    except ServiceError as exc:
        values = {name: request.POST.get(name, "") for name in FORM_FIELDS}
        values["webhook_secret"] = ""  # never sent back into the page
        errors = _form_field({exc.field or "__all__": exc.message})
        if not set(errors) & SHOWN_INLINE:  # e.g. "body": too many rules
            messages.error(request, exc.message)
        return _page(request, site, values=values, errors=errors)
    return redirect("site-alerts", domain=site.domain)


def _form_field(errors: dict[str, str]) -> dict[str, str]:
    """The API's field names as the form's (`window` → window_count, `channels[0].to` →
    email…), so the error shows beside the field at fault."""
    shown: dict[str, str] = {}
    for field, message in errors.items():
        name = field
        if field == "window":
            name = "window_count"
        elif field.startswith("filters"):
            name = "filter_value"
        elif field.startswith("channels"):
            name = "webhook_url" if ".url" in field or ".secret" in field else "email"
            if ".format" in field:
                name = "webhook_url"
        shown[name] = message
    return shown


@login_required
@require_POST
def site_alert_test(request: HttpRequest, domain: str, alert_id: str) -> HttpResponse:
    """Send a test message through the rule's channels. htmx gets the result as a table
    cell; a plain form post gets the page back with a message."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    rule = rules.rule_get(site=site, rule_id=alert_id)
    deliveries: list[Delivery] = []
    error = ""
    if not rule.channels:
        error = "This alert has no channel to send through."
    else:
        firing = evaluate.send_test(rule)
        deliveries = list(Delivery.objects.filter(pk__in=firing.deliveries))
    if request.headers.get("HX-Request"):
        return render(
            request,
            "frontend/_alert_test_result.html",
            {"rule": rule, "site": site, "deliveries": deliveries, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        shown = ", ".join(f"{d.target}: {d.status}" for d in deliveries)
        messages.success(request, f"Test sent ({shown}).")
    return redirect("site-alerts", domain=site.domain)
