"""A campaign brief: what the teacher may say about the product, loaded from YAML.

Every fact an email states must come from the lead or from this brief; the rubric's grounding
check compares generated text against exactly these fields (``source_text``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from training.records import load_yaml


class Brief(BaseModel):
    campaign: str = Field(description="Campaign id recorded on every example.")
    product: str
    sender_name: str
    sender_company: str
    value_proposition: str = Field(description="One sentence, lower-case start, no final period: "
                                   "templates embed it mid-sentence.")
    benefits: list[str] = Field(min_length=1, description="Short verb phrases ('cut ...').")
    proof_points: list[str] = Field(min_length=1, description="Full sentences with their facts.")
    call_to_action: list[str] = Field(min_length=1, description="Questions; one per email.")
    tone: str = "friendly, concise, specific"
    subject_max_chars: int = 60
    body_words: tuple[int, int] = (40, 140)

    def source_text(self) -> str:
        """All brief text an email may draw facts from."""
        parts = [self.product, self.sender_name, self.sender_company, self.value_proposition,
                 *self.benefits, *self.proof_points, *self.call_to_action]
        return "\n".join(parts)


def load_brief(path: Path) -> Brief:
    return load_yaml(path, Brief, "brief")
