"""Section ``sending``: the sending engine's mailboxes, the recipient's hours, guardrails.

A campaign sends from a pool of mailboxes; each has a daily cap, a minimum gap between two of
its sends and an optional ramp-up from a start date (sending/mailboxes.py holds them across any
number of sender processes). A draft leaves inside the recipient's local business hours,
skipping weekends and the public holidays of the recipient's country (sending/hours.py).
Rolling bounce and complaint rates pause a campaign or a mailbox (sending/guardrails.py).

With no mailbox listed, each campaign's own sender address (the draft's From) is a mailbox
with the ``default_mailbox`` limits: a deployment is paced from its first day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class MailboxLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # 30-50 a day is the common advice for one cold-mail mailbox (Instantly, Smartlead and
    # lemlist documentation); 40 sits in the middle of it.
    daily_cap: int = Field(40, ge=1, description="Emails a day from this mailbox, at most.")
    min_gap_s: float = Field(300.0, ge=0, description="Seconds (virtual) between two sends of "
                             "this mailbox, at least.")
    # Ramp-up: a new mailbox starts at ramp_first_day a day and grows by ramp_daily_increase
    # each day up to daily_cap (5, 8, 11, ... is the shape the sales tools' warm-up guides use).
    ramp_start: dt.date | None = Field(None, description="First day of the ramp-up; unset = "
                                       "the mailbox sends at its full cap.")
    ramp_first_day: int = Field(5, ge=1)
    ramp_daily_increase: int = Field(3, ge=1)
    day_time_zone: str = Field("UTC", description="The time zone whose midnight starts a new "
                               "day for the cap.")

    @field_validator("day_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)


class MailboxSettings(MailboxLimits):
    address: str = Field(description="The From address; also the mailbox's name.")
    display_name: str = ""
    # The SMTP account; unset fields fall back to the `sender` section's.
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool | None = None


class HoursSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_hour: float = Field(9.0, ge=0, lt=24, description="Local hour the window opens.")
    end_hour: float = Field(17.0, gt=0, le=24, description="Local hour the window closes.")
    days: tuple[int, ...] = Field((0, 1, 2, 3, 4), min_length=1,
                                  description="Local weekdays mail may leave (0 = Monday).")
    skip_holidays: bool = Field(True, description="Skip the recipient country's public "
                                "holidays (the `holidays` package).")
    default_time_zone: str = Field("America/New_York", description="A recipient whose zone "
                                   "nothing tells (a .com address, no country, no phone).")
    default_country: str | None = Field("US", description="Holidays of a recipient whose "
                                        "country nothing tells; unset = none.")
    anytime: bool = Field(False, description="Ignore the hours, weekends and holidays (the demo "
                          "and tests only: a real recipient gets mail in their working day).")

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)

    @model_validator(mode="after")
    def _window(self) -> HoursSettings:
        if self.end_hour <= self.start_hour:
            raise ValueError("sending.hours.end_hour must be after start_hour")
        if any(day not in range(7) for day in self.days):
            raise ValueError("sending.hours.days are weekday numbers 0 (Monday) to 6")
        return self


class GuardrailSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: float = Field(2.0, gt=0, description="Rolling window of the rates (virtual "
                               "days).")
    min_sends: int = Field(50, ge=1, description="No rate is judged on fewer sends in the "
                           "window (3 bounces in 10 sends is noise, not a burning domain).")
    # A plain rate at 50 sends pauses healthy mailboxes: at a 2% bounce rate, 3 bounces in 58
    # sends (5.2%) happen one time in nine (measured: the simulation lost a mailbox on day 2).
    # The rate that counts is the one-sided lower confidence bound (Wilson score): pause when
    # the true rate is above the threshold with this confidence, z = 1.645 for 95%.
    confidence_z: float = Field(1.645, ge=0, description="0 = judge the plain rate.")
    # Cold-mail tools pause a campaign when bounces pass a few percent; 5% is their usual
    # default. Gmail's bulk-sender rules: spam below 0.1%, never 0.3%, so 0.3% pauses.
    campaign_bounce_rate: float = Field(0.05, gt=0, le=1)
    campaign_complaint_rate: float = Field(0.003, gt=0, le=1)
    mailbox_bounce_rate: float = Field(0.05, gt=0, le=1)
    mailbox_complaint_rate: float = Field(0.003, gt=0, le=1)


class SendingSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mailboxes: tuple[MailboxSettings, ...] = Field(
        (), description="The mailboxes mail leaves from; empty = each campaign's own sender "
        "address with the default_mailbox limits.")
    pools: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="campaign id -> mailbox addresses; a campaign not "
        "listed sends from every mailbox.")
    default_mailbox: MailboxLimits = Field(default_factory=MailboxLimits)
    hours: HoursSettings = Field(default_factory=HoursSettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    failures_to_pause: int = Field(3, ge=1, description="Consecutive transport failures (no "
                                   "answer, 4xx, a relay that refuses) that pause a mailbox; an "
                                   "authentication failure pauses it at once.")
    unpaced: bool = Field(False, description="`outreach send` runs the reference sender "
                          "instead (mail/sender.py): every draft at once, no pool, no caps.")
    tick_s: float = Field(1.0, gt=0, description="Real seconds between two scheduling ticks.")
    lease_s: float = Field(120.0, gt=0, description="Real seconds a process holds a draft it "
                           "is sending before another may take it back (a crashed sender).")
    batch: int = Field(50, ge=1, description="Due drafts one mailbox looks at per tick.")
    min_step_gap_h: float = Field(24.0, ge=0, description="A follow-up goes out only after the "
                                  "sequence's previous step did, and at least this many hours "
                                  "after it.")

    @model_validator(mode="after")
    def _pools(self) -> SendingSettings:
        known = {box.address for box in self.mailboxes}
        if len(known) != len(self.mailboxes):
            raise ValueError("sending.mailboxes lists an address twice")
        for campaign, pool in self.pools.items():
            unknown = set(pool) - known
            if unknown:
                raise ValueError(f"sending.pools[{campaign}] names unknown mailboxes: "
                                 f"{sorted(unknown)}")
            if not pool:
                raise ValueError(f"sending.pools[{campaign}] is empty")
        return self


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value
