"""The figures of `outreach sendsim`, measured from the simulation's own send log against the
truth it knows about each lead (not from the engine's counters), and the sends-per-day plot
(an SVG written by hand: matplotlib is not a dependency of the project)."""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from outreach.settings import Settings

DAY_MS = 86_400_000
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _cap(box: Any, day: dt.date) -> int:
    """The settings' ramp-up rule, written out again so the check does not trust the engine."""
    if box.ramp_start is None:
        return box.daily_cap
    if day < box.ramp_start:
        return 0
    return min(box.daily_cap, box.ramp_first_day + (day - box.ramp_start).days *
               box.ramp_daily_increase)


def _outside_window(send: dict[str, Any], lead: Any, settings: Settings,
                    zones: dict[str, str]) -> bool:
    hours = settings.sending.hours
    local = dt.datetime.fromtimestamp(send["at"] / 1000, tz=ZoneInfo(zones[lead.country]))
    hour = local.hour + local.minute / 60
    return (local.weekday() not in hours.days or not hours.start_hour <= hour < hours.end_hour
            or local.date() in holidays.country_holidays(lead.country, years=local.year))


def figures(world: Any, settings: Settings, queued: dict[str, int], start_ms: int,
            scenario: dict[str, Any]) -> dict[str, Any]:
    """``scenario``: days, zones (country -> zone), fail_at_ms, failed_mailbox, wave_campaign."""
    days, failed = scenario["days"], scenario["failed_mailbox"]
    wave_campaign = scenario["wave_campaign"]

    boxes = {box.address: box for box in settings.sending.mailboxes}
    per_day: dict[str, list[int]] = {address: [0] * days for address in boxes}
    by_box: dict[str, list[int]] = collections.defaultdict(list)
    for send in world.sends:
        per_day[send["mailbox"]][(send["at"] - start_ms) // DAY_MS] += 1
        by_box[send["mailbox"]].append(send["at"])
    start = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.timezone.utc).date()
    cap_violations = [(address, day) for address, counts in per_day.items()
                      for day, count in enumerate(counts)
                      if count > _cap(boxes[address], start + dt.timedelta(days=day))]
    gap_ms = {address: int(box.min_gap_s * 1000) for address, box in boxes.items()}
    gaps = [(address, later - earlier) for address, times in by_box.items()
            for earlier, later in zip(sorted(times), sorted(times)[1:])]
    gap_violations = [g for g in gaps if g[1] < gap_ms[g[0]]]
    outside = [s for s in world.sends if _outside_window(s, world.leads[s["lead"]], settings,
                                          scenario["zones"])]
    after_stop = [s for s in world.sends if world.leads[s["lead"]].stopped_at is not None
                  and world.leads[s["lead"]].stopped_at <= s["at"]]
    # A follow-up sent before the step it follows, or on the same day: "my note last week"
    # reaching someone before the note.
    sent_at = {(s["lead"], s["step"]): s["at"] for s in world.sends}
    out_of_order = [s for s in world.sends if s["step"] > 1
                    and sent_at.get((s["lead"], s["step"] - 1), s["at"] + 1) > s["at"]
                    - settings.sending.min_step_gap_h * 3_600_000]
    events = world.events
    fail = next((e for e in events if e["kind"] == "mailbox_paused"
                 and e["name"] == failed), None)
    moved = next((e for e in events if e["kind"] == "queue_moved"
                  and e["name"] == failed), None)
    wave = next((e for e in events if e["kind"] == "campaign_paused"
                 and e["name"] == wave_campaign), None)
    wave_leads = {lid for lid, lead in world.leads.items() if lead.bounce_p > 0.1}
    wave_sends = sorted(s["at"] for s in world.sends if s["lead"] in wave_leads)

    def stamp(ms: int | None) -> str | None:
        if ms is None:
            return None
        day = (ms - start_ms) // DAY_MS + 1
        return f"day {day}, {dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc):%a %Y-%m-%d %H:%M} UTC"

    steps = collections.Counter(s["step"] for s in world.sends)
    started_by_failed = {s["lead"] for s in world.sends if s["step"] == 1
                         and s["mailbox"] == failed}
    taken_over = collections.Counter(s["mailbox"] for s in world.sends if s["step"] > 1
                                     and s["lead"] in started_by_failed
                                     and s["mailbox"] != failed)
    return {
        "sends": len(world.sends), "sends_by_step": dict(sorted(steps.items())),
        "cap_violations": len(cap_violations), "gap_violations": len(gap_violations),
        "shortest_gap_s": min(g for _, g in gaps) / 1000 if gaps else None,
        "sends_outside_recipient_window": len(outside),
        "follow_ups_after_stop": len(after_stop), "stops": world.stops,
        "follow_ups_before_their_previous_step": len(out_of_order),
        "dropped_at_send": dict(world.dropped),
        "out_of_office_replies": world.ooo,
        "mailbox_failure": {
            "relay_down": stamp(scenario["fail_at_ms"]),
            "paused": stamp(fail["occurred_at"]) if fail else None,
            "reason": fail["reason"] if fail else None,
            "paused_in_tick": fail.get("tick") if fail else None,
            "queue_moved_in_tick": moved.get("tick") if moved else None,
            "ticks_to_move": (moved["tick"] - fail["tick"]) if fail and moved else None,
            "drafts_moved": moved["count"] if moved else 0,
            "left_in_its_queue": moved.get("queue_left") if moved else None,
            "its_threads_continued_by": dict(sorted(taken_over.items()))},
        "bounce_wave": {
            "first_wave_send": stamp(wave_sends[0] if wave_sends else None),
            "campaign_paused": stamp(wave["occurred_at"]) if wave else None,
            "reason": wave["reason"] if wave else None,
            "wave_sends_before_pause": sum(1 for t in wave_sends
                                           if wave and t <= wave["occurred_at"]),
            "wave_leads_never_mailed": len(wave_leads) - len({s["lead"] for s in world.sends
                                                               if s["lead"] in wave_leads})},
        "other_pauses": [{k: e[k] for k in ("kind", "name", "reason")} for e in events
                         if e["kind"].endswith("paused") and e not in (fail, wave)],
        "sends_per_day": per_day,
        "caps_per_day": {a: [_cap(b, start + dt.timedelta(days=d)) for d in range(days)]
                         for a, b in boxes.items()},
        "queued_at_end": {k.rsplit(":", 1)[-1]: v for k, v in queued.items() if v},
    }


def svg_plot(per_day: dict[str, list[int]], title: str) -> str:
    """A line per mailbox: sends per day (x: day 1..n, y: sends)."""
    width, height, left, bottom, top, right = 720, 360, 50, 40, 30, 170
    days = len(next(iter(per_day.values())))
    peak = max(max(v) for v in per_day.values()) or 1
    y_max = (peak // 10 + 1) * 10
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(day: int) -> float:
        return left + day * plot_w / max(days - 1, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="13">{title}</text>']
    for value in range(0, y_max + 1, 10):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#ddd"/><text x="{left - 6}" '
                     f'y="{y(value) + 4:.1f}" text-anchor="end">{value}</text>')
    for day in range(days):
        parts.append(f'<text x="{x(day):.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle">{day + 1}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
                 f'day (UTC)</text>')
    for n, (address, counts) in enumerate(per_day.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(d):.1f},{y(c):.1f}" for d, c in enumerate(counts))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"/>')
        parts.append(f'<text x="{left + plot_w + 10}" y="{top + 14 + 16 * n}" '
                     f'fill="{colour}">{address.split("@")[0]}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
