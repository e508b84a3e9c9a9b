"""Section ``sequences``: follow-up steps, what stops them, the contact cap, the clock.

A sequence is one contact in one campaign: step 1 (the first email), then the campaign's
follow-ups after business-day delays. The scheduler (sequences/) requests step n only while no
stopping event has arrived; the contact cap is checked where a send is decided (the scheduler
for follow-ups, the mail sender for every draft).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StopEvent = Literal["REPLIED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED"]


class SequenceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_on: tuple[StopEvent, ...] = Field(
        ("REPLIED", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED"),
        description="Engagement types that end a contact's sequence.")
    # An out-of-office or a ticket-system auto-reply is no answer from the person: the
    # sequence goes on (what every sequencing tool does, and what sales teams expect).
    reply_classes_that_continue: tuple[str, ...] = Field(
        ("out_of_office", "auto_reply"),
        description="Reply classes (streams/replies.py) that do not stop a sequence.")
    stop_other_campaigns: bool = Field(
        True, description="A stop in one campaign stops the contact's sequences in every "
        "campaign (and drafts of other campaigns not yet sent).")
    contact_cap_emails: int = Field(1, ge=1, description="At most this many emails to one "
                                    "contact (address) within contact_cap_days, any campaign.")
    contact_cap_days: float = Field(3.0, ge=0, description="0 = no contact cap.")
    business_days: tuple[int, ...] = Field((0, 1, 2, 3, 4), min_length=1,
                                           description="Weekdays a delay counts (0 = Monday).")
    meeting_url_prefixes: tuple[str, ...] = Field(
        (), description="A click on a link starting with one of these is a booked meeting "
        "(crm.updates meeting_booked; it also stops the sequence).")
    tick_s: float = Field(1.0, gt=0, description="How often the scheduler looks for due steps "
                          "(real seconds).")
    lease_s: float = Field(30.0, gt=0, description="A due step is held by one scheduler "
                           "process this long while it requests it.")
    state_ttl_days: int = Field(120, ge=1, description="Sequence state lives this long in Redis "
                                "after its last change.")
    # The virtual clock: every process of one deployment must agree on it, so it is a setting
    # (the demo and the tests set it; production leaves speed 1).
    clock_speed: float = Field(1.0, gt=0, description="Virtual seconds per real second (the "
                               "demo runs business days in seconds).")
    clock_epoch_ms: int | None = Field(None, ge=0, description="Real epoch ms where the virtual "
                                       "clock starts to run fast; required when clock_speed != 1.")

    @model_validator(mode="after")
    def _clock(self) -> SequenceSettings:
        if self.clock_speed != 1.0 and self.clock_epoch_ms is None:
            raise ValueError("sequences.clock_epoch_ms is required when clock_speed != 1 "
                             "(every process must share the virtual clock)")
        if any(day not in range(7) for day in self.business_days):
            raise ValueError("business_days are weekday numbers 0 (Monday) to 6")
        return self
