"""The recipient's zone from each kind of evidence, and the window across weekends, holidays
and a clock change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from outreach.settings import HoursSettings
from sending.hours import Hours, Recipient, recipient_of

CFG = HoursSettings()


def ms(year: int, month: int, day: int, hour: int, minute: int = 0, zone: str = "UTC") -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()
               * 1000)


def test_the_zone_comes_from_the_best_evidence() -> None:
    assert recipient_of("a@x.com", CFG, time_zone="Asia/Tokyo") == Recipient(
        "Asia/Tokyo", "JP", "lead")  # a zone alone names its country's holidays
    assert recipient_of("a@x.com", CFG, country="in") == Recipient("Asia/Kolkata", "IN",
                                                                   "country")
    assert recipient_of("a@x.com", CFG, phone="+44 20 7946 0000") == Recipient(
        "Europe/London", "GB", "phone")
    assert recipient_of("a@firma.co.uk", CFG) == Recipient("Europe/London", "GB", "domain")
    assert recipient_of("a@firma.de", CFG, time_zone="Not/AZone") == Recipient(
        "Europe/Berlin", "DE", "domain")  # a zone the CRM misspelt is no evidence
    assert recipient_of("a@x.com", CFG, phone="(212) 555-0100") == Recipient(
        "America/New_York", "US", "default")  # a national number names no country


def test_a_friday_evening_draft_waits_for_monday_morning() -> None:
    hours = Hours(CFG)
    berlin = Recipient("Europe/Berlin", "DE", "domain")
    friday_evening = ms(2026, 11, 20, 18, zone="Europe/Berlin")
    assert hours.next_open(berlin, friday_evening) == ms(2026, 11, 23, 9, zone="Europe/Berlin")
    inside = ms(2026, 11, 23, 10, zone="Europe/Berlin")
    assert hours.next_open(berlin, inside) == inside and hours.is_open(berlin, inside)
    assert hours.closes_at(berlin, inside) == ms(2026, 11, 23, 17, zone="Europe/Berlin")


def test_holidays_of_the_recipients_country_are_skipped() -> None:
    hours = Hours(CFG)
    # Thanksgiving (Thu 2026-11-26) in New York; Labour Thanksgiving Day (Mon 11-23) in Tokyo.
    new_york = Recipient("America/New_York", "US", "default")
    tokyo = Recipient("Asia/Tokyo", "JP", "lead")
    assert hours.next_open(new_york, ms(2026, 11, 25, 18, zone="America/New_York")) == ms(
        2026, 11, 27, 9, zone="America/New_York")
    assert hours.next_open(tokyo, ms(2026, 11, 21, 12, zone="Asia/Tokyo")) == ms(
        2026, 11, 24, 9, zone="Asia/Tokyo")
    no_holidays = Hours(CFG.model_copy(update={"skip_holidays": False}))
    assert no_holidays.next_open(tokyo, ms(2026, 11, 21, 12, zone="Asia/Tokyo")) == ms(
        2026, 11, 23, 9, zone="Asia/Tokyo")


def test_the_window_is_local_wall_clock_on_the_day_clocks_change() -> None:
    # New York leaves daylight time on Sunday 2026-11-01: Monday 9:00 is 14:00 UTC, not 13:00.
    hours = Hours(CFG)
    new_york = Recipient("America/New_York", "US", "default")
    assert hours.next_open(new_york, ms(2026, 10, 31, 12)) == ms(2026, 11, 2, 14)


def test_anytime_opens_every_hour_of_every_day() -> None:
    hours = Hours(CFG.model_copy(update={"anytime": True}))
    sunday_night = ms(2026, 11, 22, 3)
    assert hours.next_open(Recipient("UTC", None, "default"), sunday_night) == sunday_night
