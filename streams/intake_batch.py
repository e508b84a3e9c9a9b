"""One intake batch from raw events to acknowledged outputs, retried as a whole on outages.

Two kinds of failure, two answers:
- a record's own fault (bad bytes, deep nesting, a lead the rules refuse) is decided inside
  ``Intake.decide_many`` as a dead letter with its reason, and the batch goes on;
- an infrastructure fault (Redis down or silent, the broker refusing or timing out a send, the
  schema registry unreachable) says nothing about the records, so the batch is decided and sent
  again after a backoff, for as long as it takes. The agent does not ask Faust for the next
  batch meanwhile, so none of these events is acknowledged and no offset moves past them: a
  SIGKILL during the outage redelivers them. The lead claims the failed attempt set are released
  (best effort: Redis may be the thing that is down), and a retry finds its own claims anyway,
  so neither the retry nor a CRM resend is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from outreach.errors import KafkaError, SchemaRegistryUnavailable, StoreError
from streams.intake import Decision, Intake, RawRecord

log = logging.getLogger(__name__)

# Backoff between attempts: 0.5 s doubling to 30 s. A Redis restart takes ~1 s and a broker
# leader election a few seconds, so the first retries usually succeed; the cap keeps a long
# outage from hammering the servers (one attempt per 30 s) while reacting within 30 s of the end.
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# Faust's producer waits up to 20 minutes (producer_request_timeout) for a broker; a batch
# that is not acknowledged within a minute is treated as failed and retried instead, so an
# outage shows in the logs and the retry loop rather than as a silent stall. The late
# acknowledgements of the first attempt only make duplicates, which workers de-duplicate.
ACK_TIMEOUT_S = 60.0


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the servers failed", never "this record is bad".

    aiokafka's errors (Faust's producer) and OS-level connection errors are included; asyncio's
    TimeoutError covers a send whose acknowledgement never came.
    """
    errors: list[type[BaseException]] = [StoreError, SchemaRegistryUnavailable, KafkaError,
                                         ConnectionError, TimeoutError, asyncio.TimeoutError]
    try:
        from aiokafka.errors import KafkaError as AioKafkaError
    except ImportError:  # the streaming extra is not installed: nothing of aiokafka can raise
        pass
    else:
        errors.append(AioKafkaError)
    return tuple(errors)


Send = Callable[[Decision], Awaitable[Awaitable[object]]]


@dataclass
class BatchResult:
    decisions: list[Decision]
    attempts: int


async def decide_and_send(intake: Intake, records: Sequence[RawRecord], send: Send,
                          sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                          max_attempts: int | None = None,
                          ack_timeout_s: float = ACK_TIMEOUT_S) -> BatchResult:
    """Decide ``records`` and send every output, waiting for all acknowledgements; on an
    infrastructure error release this attempt's claims, back off and start over.

    ``send(decision)`` enqueues one output and returns an awaitable of its acknowledgement
    (Faust's ``topic.send``). ``max_attempts`` (tests) re-raises the last error after that many
    attempts; the service passes None and waits out any outage.
    """
    transient = infrastructure_errors()
    backoff, attempt = FIRST_BACKOFF_S, 0
    while True:
        attempt += 1
        intake.last_claims = []
        try:
            decisions = await intake.decide_many(records)
            deliveries = [await send(d) for d in decisions if d.topic is not None]
            await asyncio.wait_for(asyncio.gather(*deliveries), ack_timeout_s)
            return BatchResult(decisions, attempt)
        except transient as exc:
            await _release(intake)
            if max_attempts is not None and attempt >= max_attempts:
                raise
            log.warning("intake batch of %d record(s) failed (attempt %d; retried in %.1f s, "
                        "nothing acknowledged): %s: %s", len(records), attempt, backoff,
                        type(exc).__name__, exc)
            await sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


async def _release(intake: Intake) -> None:
    claims = intake.last_claims
    if not claims:
        return
    try:
        released = await intake.store.release_claims(claims)
    except StoreError as exc:
        # Redis is what failed: the claims stay, and the retry (same records, same offsets)
        # recognizes them as its own, so nothing is dropped.
        log.info("could not release %d lead claim(s) of the failed batch: %s", len(claims), exc)
    else:
        log.info("released %d lead claim(s) of the failed batch", released)
