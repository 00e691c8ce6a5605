"""The base of every params schema: unknown keys are errors (a typo never passes silently)."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
