"""The 14-day simulation meets its targets (the record: docs/results/2026-12-07-sending-
simulation.md). ~60-100 s on the 2-core machine, so @slow."""

from __future__ import annotations

import pytest

from apps.send_simulation import run

pytestmark = pytest.mark.slow


def test_fourteen_days_meet_the_targets() -> None:
    result = run(seed=7)
    assert (result["cap_violations"], result["gap_violations"],
            result["sends_outside_recipient_window"], result["follow_ups_after_stop"],
            result["follow_ups_before_their_previous_step"]) == (0, 0, 0, 0, 0)
    failure = result["mailbox_failure"]
    assert failure["paused"] and failure["ticks_to_move"] == 1
    assert failure["left_in_its_queue"] == 0
    assert result["bounce_wave"]["campaign_paused"] and result["other_pauses"] == []
    assert result["sends"] > 1000
