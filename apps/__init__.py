"""The top of the house: the `outreach` CLI and the orchestration that wires several stages
together (demo, feedback demo, bench harness, pipeline runner). Nothing below imports it."""
