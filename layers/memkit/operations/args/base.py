"""What every operation's arguments share."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictInt
from pydantic.alias_generators import to_camel

PerPage = StrictInt | Literal[False] | None


class Args(BaseModel):
    """Base of every operation's input. Unknown keys are ignored: ``@mastra/client-js`` sends
    ``agentId`` and ``requestContext`` inside bodies, and Mastra's server ignores them too."""

    # defer_build: a model's validator is built on its first use, so a cold start pays only
    # for the operation it serves.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)
