"""The recipient's hours: their time zone, and the next moment mail may reach them.

The zone comes from the lead when the CRM gave one (``time_zone``), else from what the lead
tells about where they are: the country, the phone's calling code, the address's country-code
domain (.de, .co.uk); else the campaign's default (``sending.hours.default_time_zone``). A
country with several zones (US, Canada, Australia, Brazil...) gets its most populous one: a
guess, so the window errs to the middle of that country's day, and the lead's own
``time_zone`` field beats it.

The window: ``start_hour``-``end_hour`` local time on ``days``, skipping the public holidays of
the recipient's country (the ``holidays`` package). Everything here is a pure function of its
arguments and the settings.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from outreach.settings import HoursSettings

# Country -> its most populous zone. Countries with one zone need no entry when they appear
# below; those absent fall back to the campaign default.
COUNTRY_ZONES = {
    "US": "America/New_York", "CA": "America/Toronto", "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo", "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago",
    "CO": "America/Bogota", "PE": "America/Lima", "GB": "Europe/London", "IE": "Europe/Dublin",
    "FR": "Europe/Paris", "DE": "Europe/Berlin", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    "IT": "Europe/Rome", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels",
    "CH": "Europe/Zurich", "AT": "Europe/Vienna", "SE": "Europe/Stockholm", "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki", "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague", "GR": "Europe/Athens", "TR": "Europe/Istanbul", "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv", "IL": "Asia/Jerusalem", "AE": "Asia/Dubai", "SA": "Asia/Riyadh",
    "IN": "Asia/Kolkata", "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur",
    "ID": "Asia/Jakarta", "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "PH": "Asia/Manila",
    "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong", "TW": "Asia/Taipei", "KR": "Asia/Seoul",
    "JP": "Asia/Tokyo", "AU": "Australia/Sydney", "NZ": "Pacific/Auckland",
    "ZA": "Africa/Johannesburg", "NG": "Africa/Lagos", "KE": "Africa/Nairobi", "EG": "Africa/Cairo",
}
ZONE_COUNTRIES = {zone: country for country, zone in COUNTRY_ZONES.items()}
# Calling code -> country, longest prefix first when matched. "+1" is the US here: Canada and
# the Caribbean share it, and telling them apart needs the area code table (not worth it for
# a window that Toronto and New York share).
CALLING_CODES = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR",
    "34": "ES", "39": "IT", "41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE",
    "47": "NO", "48": "PL", "49": "DE", "51": "PE", "52": "MX", "54": "AR", "55": "BR",
    "56": "CL", "57": "CO", "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ",
    "65": "SG", "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR",
    "91": "IN", "234": "NG", "254": "KE", "351": "PT", "353": "IE", "358": "FI", "380": "UA",
    "420": "CZ", "852": "HK", "886": "TW", "966": "SA", "971": "AE", "972": "IL",
}
# Country-code domains that are not the ISO code, and generic ones that tell nothing.
TLD_COUNTRIES = {"uk": "GB"}
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Recipient:
    time_zone: str
    country: str | None
    source: str  # lead | country | phone | domain | default: how the zone was found


def recipient_of(email: str, cfg: HoursSettings, *, time_zone: str | None = None,
                 country: str | None = None, phone: str | None = None) -> Recipient:
    """Where the recipient of ``email`` is, from the best evidence available."""
    country = (country or "").strip().upper() or None
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        country = None  # not an ISO 3166-1 alpha-2 code: a CRM's free text, not a location
    phone_country = _phone_country(phone)
    domain_country = _domain_country(email)
    known_country = country or phone_country or domain_country
    if time_zone and _valid_zone(time_zone):
        # A zone with no country beside it still names one: Asia/Tokyo's holidays are Japan's,
        # not the campaign default's (a .com address in Tokyo was mailed on a Japanese holiday).
        return Recipient(time_zone, known_country or ZONE_COUNTRIES.get(time_zone), "lead")
    for found, source in ((country, "country"), (phone_country, "phone"),
                          (domain_country, "domain")):
        if found and found in COUNTRY_ZONES:
            return Recipient(COUNTRY_ZONES[found], found, source)
    return Recipient(cfg.default_time_zone, known_country or cfg.default_country, "default")


def _phone_country(phone: str | None) -> str | None:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if not (phone or "").strip().startswith(("+", "00")) or not digits:
        return None  # a national number ("(212) 555...") names no country by itself
    digits = digits[2:] if phone.strip().startswith("00") else digits  # type: ignore[union-attr]
    for length in (3, 2, 1):
        if digits[:length] in CALLING_CODES:
            return CALLING_CODES[digits[:length]]
    return None


def _domain_country(email: str) -> str | None:
    tld = email.rsplit(".", 1)[-1].lower() if "@" in email else ""
    if tld in TLD_COUNTRIES:
        return TLD_COUNTRIES[tld]
    return tld.upper() if len(tld) == 2 and tld.isalpha() else None


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=512)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the package does not cover: no holidays known
        return frozenset()


class Hours:
    """The recipient's sending window under ``cfg``."""

    def __init__(self, cfg: HoursSettings) -> None:
        self.cfg = cfg

    def is_open_day(self, day: dt.date, recipient: Recipient) -> bool:
        if day.weekday() not in self.cfg.days:
            return False
        if self.cfg.skip_holidays and recipient.country:
            return day not in _holidays(recipient.country, day.year)
        return True

    def is_open(self, recipient: Recipient, at_ms: int) -> bool:
        return self.cfg.anytime or self.next_open(recipient, at_ms) == at_ms

    def next_open(self, recipient: Recipient, at_ms: int) -> int:
        """``at_ms`` when the window is open then, else the instant it next opens."""
        if self.cfg.anytime:
            return at_ms
        zone = ZoneInfo(recipient.time_zone)
        local = dt.datetime.fromtimestamp(at_ms / 1000, tz=zone)
        day = local.date()
        for _ in range(60):  # 60 days: longer than any run of weekends and holidays
            if self.is_open_day(day, recipient):
                opens, closes = self._bounds(day, zone)
                if local < closes:
                    return max(at_ms, _ms(opens))
            day += DAY
        raise ValueError(f"no sending day within 60 days for {recipient}")

    def closes_at(self, recipient: Recipient, at_ms: int) -> int:
        """When the window open at ``at_ms`` closes (``at_ms`` must be inside it)."""
        if self.cfg.anytime:
            return at_ms + int(DAY.total_seconds() * 1000)
        zone = ZoneInfo(recipient.time_zone)
        day = dt.datetime.fromtimestamp(at_ms / 1000, tz=zone).date()
        return _ms(self._bounds(day, zone)[1])

    def _bounds(self, day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        # Wall-clock hours: 9:00 is 9:00 on the day clocks change, not midnight + 9 h.
        opens = midnight.replace(hour=int(self.cfg.start_hour),
                                 minute=int(self.cfg.start_hour % 1 * 60))
        if self.cfg.end_hour >= 24:
            closes = dt.datetime.combine(day + DAY, dt.time(0), tzinfo=zone)
        else:
            closes = midnight.replace(hour=int(self.cfg.end_hour),
                                      minute=int(self.cfg.end_hour % 1 * 60))
        return opens, closes


def _ms(stamp: dt.datetime) -> int:
    return int(stamp.timestamp() * 1000)
