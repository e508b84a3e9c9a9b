"""Sequences: follow-up steps that stop on a reply, the contact cap, outcomes for the CRM.

    clock.py      the (virtual) clock and business-day arithmetic
    state.py      per-sequence state in Redis: atomic transitions (Lua), replayable by id
    cap.py        the contact cap across campaigns (atomic in Redis, any number of processes)
    outcomes.py   crm.updates records with deterministic event ids
    scheduler.py  the event-driven scheduler: email.drafts + engagement.events in, follow-up
                  requests and crm.updates out (`outreach sequences`)
    gate.py       the send decision the mail sender asks for (stopped contact, cap)
"""
