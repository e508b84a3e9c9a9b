"""Section ``training``: the teacher, human review and the datasets."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class TeacherSettings(BaseModel):
    """The OpenAI-compatible teacher (any provider, vLLM or llama.cpp's server)."""

    base_url: str = Field("http://127.0.0.1:8000/v1", description="Chat-completions base URL.")
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = Field(None, description="Bearer token; unset = no "
                                      "Authorization header.")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    max_retries: int = Field(4, ge=0, description="Retries on 429/5xx/network errors.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")
    timeout_s: float = 60.0
    temperature: float = 0.8
    max_tokens: int = 400
    # Cost tracking: USD per million tokens (gpt-4o-mini list price at the time of writing).
    usd_per_m_input: float = 0.15
    usd_per_m_output: float = 0.60


class ReviewSettings(BaseModel):
    db_path: Path = Field(Path("training-data/review.sqlite"), description="SQLite review queue.")
    host: str = "127.0.0.1"
    port: int = 8077
    token: SecretStr | None = Field(None, description="Access token; unset = a random one "
                                    "is printed.")


class TrainingSettings(BaseModel):
    data_dir: Path = Field(Path("training-data"), description="Teacher output and datasets.")
    brief_path: Path = Field(Path("training/briefs/default.yaml"), description="Campaign brief.")
    recipe_path: Path = Field(Path("training/recipes/lora-gemma3-270m.yaml"))
    min_reward: float = Field(0.5, description="FeedbackExamples below this reward are dropped.")
    near_duplicate_threshold: float = Field(
        0.8, ge=0, le=1, description="Jaccard similarity of word 5-grams above which two emails "
        "count as near-duplicates.")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
