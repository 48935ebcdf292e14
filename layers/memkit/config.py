"""Agent memory configuration and the agent registry.

Each agent (``agentId`` on the wire) has a Memory configuration in Mastra's shape, and may
override the storage URL (agent-level storage). The registry is read from a TOML file
(``MEMKIT_CONFIG``, e.g. ``memkit.toml``)::

    [agents.default]
    lastMessages = 10
    generateTitle = true

    [agents.support]
    lastMessages = 20
    readOnly = false
    storageUrl = "dynamodb://support-memory"
    semanticRecall = { topK = 4, messageRange = 1, scope = "resource" }
    workingMemory = { enabled = true, scope = "resource" }

A request without ``agentId`` uses ``default``; an unknown ``agentId`` is a 404 so that a typo
does not silently run with the wrong memory settings.
"""

# Annotations are evaluated eagerly here, as in memkit.models (see there).
from typing import Any, Literal, Union

from pydantic import Field, field_validator

from memkit.errors import ConfigurationError, NotFoundError
from memkit.models import WireModel, parse_model

DEFAULT_WORKING_MEMORY_TEMPLATE = """# User Information
- **First Name**:
- **Last Name**:
- **Location**:
- **Occupation**:
- **Interests**:
- **Goals**:
- **Events**:
- **Facts**:
- **Projects**:
"""

DEFAULT_TITLE_INSTRUCTIONS = (
    "Generate a short title for a conversation that starts with the user's message below. "
    "Answer with the title only: at most 80 characters, no quotes, no colons."
)


class MessageRange(WireModel):
    before: int = 1
    after: int = 1


class SemanticRecallConfig(WireModel):
    top_k: int = 4
    message_range: Union[int, MessageRange] = 1
    scope: Literal["resource", "thread"] = "resource"
    threshold: float | None = None

    @property
    def window(self) -> MessageRange:
        if isinstance(self.message_range, MessageRange):
            return self.message_range
        return MessageRange(before=self.message_range, after=self.message_range)

    @field_validator("top_k")
    @classmethod
    def _top_k(cls, v: int) -> int:
        if not 1 <= v <= 100:
            raise ValueError("topK must be between 1 and 100")
        return v


class WorkingMemoryConfig(WireModel):
    enabled: bool = False
    scope: Literal["resource", "thread"] = "resource"
    template: str | None = None
    # JSON-schema-like object; when set, working memory is JSON and updates deep-merge.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @property
    def format(self) -> Literal["markdown", "json"]:
        return "json" if self.schema_ is not None else "markdown"

    @property
    def effective_template(self) -> str:
        return self.template if self.template is not None else DEFAULT_WORKING_MEMORY_TEMPLATE


class GenerateTitleConfig(WireModel):
    model: str | None = None  # e.g. "openai/gpt-4o-mini", "bedrock/anthropic.claude-3-haiku-...", "local"
    instructions: str | None = None


class MemoryConfig(WireModel):
    last_messages: Union[int, Literal[False]] = 10
    semantic_recall: Union[Literal[False], SemanticRecallConfig] = False
    # Constructed: every default is valid, and validating them would build WorkingMemoryConfig's
    # validator during every cold start (the default agent has this default).
    working_memory: WorkingMemoryConfig = Field(default_factory=WorkingMemoryConfig.model_construct)
    generate_title: Union[bool, GenerateTitleConfig] = False
    read_only: bool = False
    storage_url: str | None = None
    indexing: Literal["async", "sync"] | None = None  # None: the deployment's MEMKIT_INDEXING

    @field_validator("semantic_recall", mode="before")
    @classmethod
    def _recall(cls, v: Any) -> Any:
        if v is True:
            return SemanticRecallConfig()
        return v

    @field_validator("last_messages")
    @classmethod
    def _last(cls, v: Any) -> Any:
        if v is not False and v < 0:
            raise ValueError("lastMessages must be >= 0 or false")
        return v

    @property
    def title_config(self) -> GenerateTitleConfig | None:
        if self.generate_title is False:
            return None
        if self.generate_title is True:
            return GenerateTitleConfig()
        return self.generate_title

    def merged(self, overrides: dict[str, Any] | None) -> "MemoryConfig":
        """This config with per-request overrides (``memoryConfig`` query parameter)."""
        if not overrides:
            return self
        data = self.model_dump(by_alias=True)
        data.update(overrides)
        return parse_model(MemoryConfig, data, what="memoryConfig")

    def describe(self) -> dict[str, Any]:
        """The shape GET /api/memory/config answers with."""
        recall = self.semantic_recall
        return {
            "lastMessages": self.last_messages,
            "semanticRecall": recall.to_wire() if recall else False,
            "generateTitle": (
                self.generate_title
                if isinstance(self.generate_title, bool)
                else self.generate_title.to_wire()
            ),
            "workingMemory": {
                "enabled": self.working_memory.enabled,
                "template": self.working_memory.effective_template
                if self.working_memory.format == "markdown"
                else None,
                "schema": self.working_memory.schema_,
                "scope": self.working_memory.scope,
            },
            "readOnly": self.read_only,
            "observationalMemory": {"enabled": False},
        }


class AgentRegistry:
    DEFAULT_AGENT = "default"

    def __init__(self, agents: dict[str, MemoryConfig] | None = None):
        self._agents = dict(agents or {})
        if self.DEFAULT_AGENT not in self._agents:
            # Every field at its default is valid by construction; validating them would build
            # MemoryConfig's validator on every cold start of a deployment without a config file.
            self._agents[self.DEFAULT_AGENT] = MemoryConfig.model_construct()

    @classmethod
    def from_file(cls, path: str | None) -> "AgentRegistry":
        if not path:
            return cls()
        import tomllib

        try:
            with open(path, "rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigurationError(f"MEMKIT_CONFIG points at {path!r}, which does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
        agents_raw = raw.get("agents", {})
        if not isinstance(agents_raw, dict):
            raise ConfigurationError(f"{path}: [agents] must be a table of agent tables")
        agents: dict[str, MemoryConfig] = {}
        for agent_id, table in agents_raw.items():
            try:
                agents[agent_id] = MemoryConfig.model_validate(table)
            except Exception as exc:  # pydantic or memkit validation: both are config errors here
                raise ConfigurationError(f"{path}: [agents.{agent_id}] {config_problem(exc)}") from None
        return cls(agents)

    def get(self, agent_id: str | None) -> MemoryConfig:
        if agent_id in (None, "", "undefined"):
            agent_id = self.DEFAULT_AGENT
        try:
            return self._agents[agent_id]
        except KeyError:
            raise NotFoundError(f"Agent with id {agent_id} not found") from None

    def ids(self) -> list[str]:
        return sorted(self._agents)

    def storage_urls(self) -> set[str]:
        return {c.storage_url for c in self._agents.values() if c.storage_url}

    def max_last_messages(self) -> int:
        """The largest recent window any agent reads (the cache keeps at least this many)."""
        return max((c.last_messages or 0 for c in self._agents.values()), default=10)


def config_problem(exc: Exception) -> str:
    """One line for a config validation error: where, what, and for an unknown key the known
    key it most resembles (``lastMesages`` -> did you mean ``lastMessages``?)."""
    from pydantic import BaseModel, ValidationError as PydanticValidationError

    if not isinstance(exc, PydanticValidationError):
        return str(exc)
    errors = exc.errors()
    # An unknown key is the likeliest typo; a union reports one error per member otherwise.
    error = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    # Union members name themselves in the location (``literal[False]``, ``SemanticRecallConfig``).
    location = [str(part) for part in error.get("loc", ()) if not _is_union_tag(part)]
    where = ".".join(location) or "config"
    if error.get("type") != "extra_forbidden":
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{where}: {message}"
    # The model the unknown key was found in, following the known keys before it.
    model: type[BaseModel] = MemoryConfig
    for part in location[:-1]:
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            break
        model = nested
    known = sorted(f.alias or name for name, f in model.model_fields.items())
    import difflib

    close = difflib.get_close_matches(location[-1], known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(known)})"
    return f"unknown key {where}{hint}"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside a field's type (``X | None``, ``Union[Literal[False], X]``)."""
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
