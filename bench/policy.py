"""Cost per call of the scheduling policy: recipient zones by source, step timing, window checks.

Run: python bench/policy.py [--calls N]   (no database; N defaults to 100,000)
Prints: the import and the cold first call of each function (which builds its caches: zone names, the city
table, phone metadata, holiday sets), then µs per warm call over N calls. recipient_zone is shown twice per
source: answered from its memo (the same lead again, as at each claim and dispatch) and inferred afresh (a new
lead, with the data tables warm).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

t0 = time.perf_counter()
from plera.scheduling import policy, zones  # noqa: E402  (the import is measured)

IMPORT_S = time.perf_counter() - t0

WORKSPACE = "America/New_York"
Lead = tuple[str | None, str | None, str | None, str | None]  # timezone, city, country, phone
LEADS: dict[str, Lead] = {  # a lead whose zone comes from each source
    "explicit": ("Asia/Kolkata", None, None, None),
    "city": (None, "Mumbai", "IN", None),
    "phone": (None, None, None, "+1 415 555 0100"),
    "country": (None, None, "DE", None),
    "workspace": ("nowhere", "Xyzzyville", "US", "n/a"),
}
RECIPIENTS = ["America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "America/New_York"]
SPAN = 2048  # instants over two months and five zones: the window cache sees a few hundred keys


def per_call_us(fn: Callable[[int], object], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - start) / calls * 1e6


def cold_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def zone_of(lead: Lead) -> Callable[[int], object]:
    """recipient_zone as the engine calls it: answered from its memo when the lead was seen before."""
    timezone, city, country, phone = lead
    return lambda _: policy.recipient_zone(
        timezone=timezone, city=city, country=country, phone=phone, workspace_zone=WORKSPACE
    )


def inferred(lead: Lead) -> Callable[[int], object]:
    """The inference behind the memo, as for a lead not seen before (the data tables warm)."""
    infer = zones._recipient_zone.__wrapped__
    return lambda _: infer(*lead, WORKSPACE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    n = parser.parse_args().calls
    rules = policy.SendingRules.from_workspace(WORKSPACE, "09:00", "17:00", ["mon", "tue", "wed", "thu", "fri"], ["US"])
    base = datetime(2026, 3, 2, 12, tzinfo=UTC)
    at = [base + timedelta(minutes=37 * i) for i in range(SPAN)]
    zone = [RECIPIENTS[i % len(RECIPIENTS)] for i in range(SPAN)]

    def later_step(i: int) -> object:
        return policy.later_step_eligible(rules, zone[i % SPAN], at[i % SPAN], i % 5)

    def send_time(i: int) -> object:
        return policy.send_time(rules, zone[i % SPAN], at[i % SPAN], at[(i + 7) % SPAN])

    def is_open(i: int) -> object:
        return policy.is_open(rules, zone[i % SPAN], at[i % SPAN])

    def next_opening(i: int) -> object:
        return policy.next_opening(rules, zone[i % SPAN], at[i % SPAN])

    timed = {
        "later_step_eligible": later_step,
        "send_time": send_time,
        "is_open": is_open,
        "next_opening": next_opening,
    }

    print(f"import plera.scheduling.policy      {IMPORT_S * 1e3:8.1f} ms")
    print("cold first call (builds its caches):")
    for source, lead in LEADS.items():
        print(f"  recipient_zone, {source:9}         {cold_ms(partial(zone_of(lead), 0)):8.1f} ms")
    for name, fn in timed.items():
        print(f"  {name:33}{cold_ms(partial(fn, 0)):8.1f} ms")

    print(f"warm, µs per call over {n:,} calls:")
    for source, lead in LEADS.items():
        memo = per_call_us(zone_of(lead), n)
        fresh = per_call_us(inferred(lead), n)
        print(f"  recipient_zone, {source:9}  memo {memo:6.2f}   fresh {fresh:6.2f}")
    for name, fn in timed.items():
        print(f"  {name:33}{per_call_us(fn, n):6.2f}")


if __name__ == "__main__":
    main()
