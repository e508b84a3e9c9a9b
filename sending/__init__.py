"""The sending engine: drafts out through a pool of mailboxes, paced and guarded.

mailboxes (pool, caps, gaps, ramp-up), hours (the recipient's window), schedule (durable
scheduled drafts), failover (a failing mailbox's queue moves), guardrails (bounce and
complaint rates pause a campaign or mailbox), engine (the decisions), runner (the Kafka
process, `outreach send`), status (what the dashboard and `outreach sending` show).
"""
