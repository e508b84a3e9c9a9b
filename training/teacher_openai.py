"""The LLM teacher: any OpenAI-compatible chat-completions endpoint (a provider, vLLM, or
llama.cpp's server), called concurrently with retries and token cost tracking.

Concurrency is an asyncio semaphore (settings training.teacher.concurrency); 429, 5xx and
network errors are retried with exponential backoff (backoff_s x 2^attempt, honouring a
Retry-After header), other 4xx fail at once. Cost = prompt/completion tokens from the
response's ``usage`` x the configured USD per million tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from outreach.endpoints import bearer_headers
from outreach.errors import TeacherError
from outreach.settings import TeacherSettings
from schemas.campaign import Campaign
from training.prompt import DEFAULT_FIELD_MAX_CHARS, split_email
from training.records import Example, example_id
from generation.prompt import CHAT_INSTRUCTIONS, chat_user
from generation.retrieval import evidence_for

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def system_prompt(campaign: Campaign) -> str:
    """The worker's chat instructions plus the campaign's limits (numbers, not campaign text:
    the campaign's words stay in the quoted user data, like the miniature's prompt)."""
    return (CHAT_INSTRUCTIONS + f"Subject at most {campaign.subject_max_chars} characters; "
            f"body {campaign.body_min_words}-{campaign.body_max_words} words.\n")


@dataclass
class Usage:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class OpenAITeacher:
    def __init__(self, settings: TeacherSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        headers = bearer_headers(settings.api_key, settings.base_url, "teacher")
        self._client = httpx.AsyncClient(base_url=settings.base_url.rstrip("/") + "/",
                                         headers=headers, timeout=settings.timeout_s,
                                         transport=transport)
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self.usage = Usage()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _cost(self, prompt: int, completion: int) -> float:
        return (prompt * self.settings.usd_per_m_input
                + completion * self.settings.usd_per_m_output) / 1e6

    async def complete(self, messages: list[dict[str, str]], seed: int) -> dict[str, Any]:
        """One chat completion, retried; returns the parsed response JSON."""
        payload = {"model": self.settings.model, "messages": messages, "seed": seed,
                   "temperature": self.settings.temperature,
                   "max_tokens": self.settings.max_tokens}
        async with self._semaphore:
            for attempt in range(self.settings.max_retries + 1):
                delay = self.settings.backoff_s * 2 ** attempt
                try:
                    response = await self._client.post("chat/completions", json=payload)
                except httpx.TransportError as exc:
                    error: str = f"network error: {exc}"
                else:
                    if response.status_code == 200:
                        self.usage.requests += 1
                        try:
                            return response.json()
                        except ValueError as exc:
                            raise TeacherError("teacher answered with invalid JSON") from exc
                    error = f"HTTP {response.status_code}: {response.text[:200]}"
                    if response.status_code not in RETRY_STATUS:
                        raise TeacherError(f"teacher request failed: {error}")
                    retry_after = response.headers.get("retry-after", "")
                    if retry_after.replace(".", "", 1).isdigit():
                        delay = max(delay, float(retry_after))
                if attempt == self.settings.max_retries:
                    raise TeacherError(f"teacher failed after {attempt + 1} attempts: {error}")
                self.usage.retries += 1
                await asyncio.sleep(delay)
        raise TeacherError("unreachable")  # pragma: no cover

    async def write(self, lead: dict[str, Any], campaign: Campaign, variant: int) -> Example:
        """One email from the same inputs as the offline teacher and the miniature: the
        campaign block, the evidence retrieval picks for the lead, and the lead."""
        evidence = evidence_for(campaign, lead)
        messages = [{"role": "system", "content": system_prompt(campaign)},
                    {"role": "user", "content": chat_user(lead, campaign, evidence,
                                                          DEFAULT_FIELD_MAX_CHARS)}]
        started = time.perf_counter()
        data = await self.complete(messages, seed=variant)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise TeacherError(f"unexpected chat-completions response: {str(data)[:200]}") from exc
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        cost = self._cost(prompt, completion)
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        self.usage.cost_usd += cost
        subject, body = split_email(text)
        name = f"openai:{self.settings.model}"
        return Example(example_id=example_id(str(lead.get("lead_id")), campaign.campaign_id, name,
                                             variant),
                       lead=lead, subject=subject, body=body, teacher=name,
                       campaign=campaign.campaign_id, campaign_version=campaign.version,
                       evidence_ids=[fact.id for fact in evidence], prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost,
                       seconds=time.perf_counter() - started)


async def teach_async(leads: list[dict[str, Any]], campaign: Campaign, settings: TeacherSettings,
                      variants: int = 1, on_done: Callable[[], None] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None
                      ) -> tuple[list[Example], dict[str, Any]]:
    teacher = OpenAITeacher(settings, transport)

    async def one(lead: dict[str, Any], variant: int) -> Example:
        example = await teacher.write(lead, campaign, variant)
        if on_done:
            on_done()
        return example

    try:
        examples = await asyncio.gather(*(one(lead, v) for lead in leads for v in range(variants)))
    finally:
        await teacher.aclose()
    return list(examples), vars(teacher.usage)


def teach(leads: list[dict[str, Any]], campaign: Campaign, settings: TeacherSettings,
          variants: int = 1, on_done: Callable[[], None] | None = None
          ) -> tuple[list[Example], dict[str, Any]]:
    """Synchronous entry point for the CLI: (examples in lead order, usage totals)."""
    return asyncio.run(teach_async(leads, campaign, settings, variants, on_done))
