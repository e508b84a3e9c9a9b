"""The teacher's follow-ups (training/teacher_followup.py): steps 2 and 3 that pass the one
checks entry point as the worker runs it on a follow-up (nothing of the previous email again,
no contact beyond the thread), on the exact prompt the worker serves, for synthetic and
example campaigns and leads from anywhere."""

from __future__ import annotations

import json
import random
from pathlib import Path

from apps.sequence_demo import STEPS
from generation.checks import check_draft
from generation.draft import Draft
from generation.followup import opening, repeated_from_previous
from generation.prompt import TRAINED_CUE
from outreach.leadgen import make_lead
from outreach.settings import ChecksSettings
from schemas.campaign import load_campaign
from training import campaign_synth, teacher_followup
from training.prompt import trained_prompt

EXAMPLES = sorted((Path(__file__).parents[2] / "campaigns" / "examples").glob("*.yaml"))


def test_follow_up_examples_pass_the_follow_up_checks_on_the_served_prompt() -> None:
    rng = random.Random(25)
    campaigns = campaign_synth.generate(16, seed=2)[:6] + [load_campaign(p) for p in EXAMPLES]
    steps_seen: dict[int, int] = {}
    for campaign in (c.model_copy(update={"steps": STEPS}) for c in campaigns):
        leads = [make_lead(rng, i, campaign.campaign_id) for i in range(8)]
        rows = teacher_followup.followup_rows(leads, campaign, seed=3)
        assert len(rows) == 2 * len(leads)  # steps 2 and 3 for every lead
        for row in rows:
            subject, body = row["completion"].split("\n\n", 1)[0], row["completion"]
            draft = Draft(subject.removeprefix("Subject: "), body.split("\n\n", 1)[1])
            request = {"lead": row["lead"], "withheld": {}, "step": row["step"],
                       "previous_body": row["previous_body"]}
            assert check_draft(draft, request, ChecksSettings(), campaign) == [], (
                row["step"], draft.body)
            # the thread's subject; the worker sends it as "Re: ..." (thread_subject)
            assert draft.subject == row["previous_subject"]
            # The worker's own follow-up prompt: the first email's, plus the follow-up line
            # (step, brief, the previous email's opening) before the cue.
            plain = trained_prompt(row["lead"], campaign)
            assert row["prompt"].startswith(plain[:plain.rfind(TRAINED_CUE)])
            assert f'"step": {row["step"]}' in row["prompt"]
            assert opening(row["previous_body"])[:60] in row["prompt"]
            assert not repeated_from_previous(request, draft.body)
            steps_seen[row["step"]] = steps_seen.get(row["step"], 0) + 1
    assert steps_seen == {2: 72, 3: 72}


def test_follow_up_examples_are_reproducible_and_varied() -> None:
    campaign = load_campaign(EXAMPLES[0]).model_copy(update={"steps": STEPS})
    leads = [make_lead(random.Random(7), i, campaign.campaign_id) for i in range(10)]
    once = teacher_followup.followup_rows(leads, campaign, seed=1)
    again = teacher_followup.followup_rows(leads, campaign, seed=1)
    assert [r["completion"] for r in once] == [r["completion"] for r in again]
    assert len({r["example_id"] for r in once}) == len(once)
    openers = {r["completion"].split("\n\n")[2].split(".")[0] for r in once}
    assert len(openers) >= 4  # not one template


def test_the_campaigns_dataset_takes_follow_ups_when_asked(tmp_path: Path) -> None:
    from training import campaign_data

    plain = campaign_data.build(tmp_path / "plain", campaigns=4, held_out=1, train_leads=3)
    with_followups = campaign_data.build(tmp_path / "fu", campaigns=4, held_out=1,
                                         train_leads=3, followup_leads=2)
    # 3 training campaigns x 2 leads x steps 2 and 3, all passing the follow-up checks
    added = with_followups["counts"]["train"] - plain["counts"]["train"]
    assert added == 12, with_followups["filtering"]
    rows = [json.loads(line) for line in (tmp_path / "fu" / "train.jsonl").open()]
    steps = [r for r in rows if r.get("step")]
    assert sorted({r["step"] for r in steps}) == [2, 3]
    assert all("\nFollow-up: " in r["prompt"] for r in steps)
    assert with_followups["counts"]["test_unseen_campaigns"] == plain["counts"][
        "test_unseen_campaigns"]  # held-out slices unchanged
