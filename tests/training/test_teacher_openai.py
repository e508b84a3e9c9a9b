"""The OpenAI-compatible teacher against a real local HTTP server speaking chat completions:
concurrency cap, retries with backoff on 429/503, token cost tracking, hard failures."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("fastapi")
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from servers import serve  # noqa: E402

from outreach.errors import TeacherError  # noqa: E402
from outreach.settings import TeacherSettings  # noqa: E402
from training import leads, teacher_openai  # noqa: E402


def chat_server(fail_first: int = 2, always: int | None = None) -> tuple[FastAPI, dict]:
    state = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "auth": set()}
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request):
        payload = await request.json()
        state["requests"] += 1
        state["auth"].add(request.headers.get("authorization"))
        if always:
            return JSONResponse({"error": "bad request"}, status_code=always)
        if state["requests"] <= fail_first:
            code = 429 if state["requests"] == 1 else 503
            return JSONResponse({"error": "busy"}, status_code=code,
                                headers={"Retry-After": "0"})
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        await asyncio.sleep(0.05)  # long enough for concurrent requests to overlap
        state["in_flight"] -= 1
        # The same quoted data lines as the miniature's prompt: campaign, evidence, lead.
        lines = payload["messages"][1]["content"].split("\n")
        assert [line.split(":", 1)[0] for line in lines] == ["Campaign", "Evidence", "Lead"]
        state.setdefault("evidence", []).append(json.loads(lines[1].removeprefix("Evidence: ")))
        lead = json.loads(lines[2].removeprefix("Lead: "))
        text = (f"Subject: An idea for {lead['company']}\n\nHi {lead['first_name']},\n\n"
                f"Short note about {lead['company']}. Would a call help?\n\nBest,\nSam")
        return {"choices": [{"message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50}}

    return app, state


def _settings(url: str, **overrides) -> TeacherSettings:
    params = dict(base_url=url + "/v1", model="test-model", api_key="k-123", concurrency=3,
                  max_retries=3, backoff_s=0.01, usd_per_m_input=1.0, usd_per_m_output=2.0)
    params.update(overrides)
    return TeacherSettings(**params)


def test_concurrent_retried_and_costed(brief):
    app, state = chat_server(fail_first=2)
    rows = leads.generated(8, 2, brief.campaign_id)
    with serve(app) as url:
        examples, usage = teacher_openai.teach(rows, brief, _settings(url))
    assert [e.lead_id for e in examples] == [r["lead_id"] for r in rows]
    for example, row in zip(examples, rows):
        assert example.subject == f"An idea for {row['company']}"
        assert example.body.startswith(f"Hi {row['first_name']},")
        assert example.teacher == "openai:test-model"
        assert example.evidence_ids and example.campaign == brief.campaign_id
    assert usage["retries"] == 2 and usage["requests"] == 8
    assert usage["prompt_tokens"] == 800 and usage["completion_tokens"] == 400
    assert usage["cost_usd"] == pytest.approx(8 * (100 * 1.0 + 50 * 2.0) / 1e6)
    assert 1 < state["max_in_flight"] <= 3
    assert state["auth"] == {"Bearer k-123"}
    assert all(ev and ev[0]["id"].startswith("pp-") for ev in state["evidence"])


def test_client_errors_fail_fast_and_retries_run_out(brief):
    rows = leads.generated(1, 2, brief.campaign_id)
    app, state = chat_server(always=400)
    with serve(app) as url, pytest.raises(TeacherError, match="HTTP 400"):
        teacher_openai.teach(rows, brief, _settings(url))
    assert state["requests"] == 1
    app, state = chat_server(fail_first=10)
    with serve(app) as url, pytest.raises(TeacherError, match="after 3 attempts"):
        teacher_openai.teach(rows, brief, _settings(url, max_retries=2))
    assert state["requests"] == 3
