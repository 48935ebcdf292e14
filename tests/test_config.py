"""The agent registry's built-in default agent (no memkit.toml)."""

from __future__ import annotations

from memkit.config import AgentRegistry, MemoryConfig


def test_the_default_agent_is_exactly_a_validated_default_config() -> None:
    built_in = AgentRegistry().get(None)
    validated = MemoryConfig.model_validate({})
    assert built_in == validated
    assert built_in.model_dump(by_alias=True) == validated.model_dump(by_alias=True)
    assert built_in.describe() == validated.describe()
    assert built_in.title_config is None and built_in.working_memory.format == "markdown"


def test_a_config_file_may_define_the_default_agent_itself(tmp_path) -> None:
    config = tmp_path / "memkit.toml"
    config.write_text("[agents.default]\nlastMessages = 3\ngenerateTitle = true\n")
    default = AgentRegistry.from_file(str(config)).get("default")
    assert default.last_messages == 3 and default.title_config is not None
