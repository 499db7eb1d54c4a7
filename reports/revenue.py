"""Revenue metrics (`total_revenue`, `average_revenue`), with Plausible's semantics.

A goal may carry a currency (`sites.Goal.currency`): the conversions it counts then have a
revenue. The two metrics have a value only under a filter that chooses revenue goals of
one currency (`event:goal is …`, at the top level of the filters): the sum and the
average of the amounts, in that currency, of the events the report counts. Amounts sent
in another currency are not converted (Trail keeps no exchange rates): they are left out.
Without such a filter the metrics are `null`, as Plausible's are for a non-revenue goal.

The Stats API writes a value as Plausible's v2 API does, a money object
`{"short": "€9.5", "long": "€9.50", "value": 9.5, "currency": "EUR"}` (`money`).
"""

from __future__ import annotations

from reports.query import Combined, Condition, Filter, GoalDefinition

REVENUE_METRICS = frozenset({"total_revenue", "average_revenue"})
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}


def currency_of(filters: tuple[Filter, ...], goals: tuple[GoalDefinition, ...]) -> str:
    """The one currency of the revenue goals the top-level `event:goal is` filters choose;
    empty when they choose none, or goals without a currency, or several currencies."""
    names: set[str] = set()
    for node in filters:
        if isinstance(node, Combined) or node.dimension != "event:goal":
            continue
        if node.op != "is":
            return ""
        names.update(_chosen(node, goals))
    currencies = {goal.currency for goal in goals if goal.name in names}
    if len(currencies) != 1:
        return ""
    return currencies.pop()


def _chosen(condition: Condition, goals: tuple[GoalDefinition, ...]) -> set[str]:
    fold = (lambda text: text) if condition.case_sensitive else str.lower
    wanted = {fold(clause) for clause in condition.clauses}
    return {goal.name for goal in goals if fold(goal.name) in wanted}


def revenue_sql(metric: str, currency: str) -> str:
    """The expression of a revenue metric on `events`, `currency` a bound parameter."""
    mine = f"revenue_amount IS NOT NULL AND revenue_currency = {currency}"
    if metric == "total_revenue":
        return f"toFloat64(ifNull(sumIf(revenue_amount, {mine}), 0))"
    return f"if(countIf({mine}) > 0, toFloat64(avgIf(revenue_amount, {mine})), 0)"


def _short(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".")


def money(value: float, currency: str) -> dict[str, object]:
    """A revenue value as Plausible's v2 API writes it."""
    symbol = SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    return {
        "short": f"{sign}{symbol}{_short(abs(value))}",
        "long": f"{sign}{symbol}{abs(value):,.2f}",
        "value": round(value, 2),
        "currency": currency,
    }
