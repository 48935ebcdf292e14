"""The rules a title follows, whatever the model answered."""

from __future__ import annotations

import pytest

from memkit.config import DEFAULT_TITLE_INSTRUCTIONS
from memkit.titles.rules import PROMPT_MAX_CHARS, TITLE_MAX_CHARS, build_prompt, clean_title, extractive_title


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Trip to Lisbon"', "Trip to Lisbon"),
        ("“Curly” and ‘single’ quotes", "Curly and single quotes"),
        ("«Guillemets» and `backticks`", "Guillemets and backticks"),
        ("Budget: a plan for 2025", "Budget a plan for 2025"),
        ("Travel：fullwidth colon", "Travel fullwidth colon"),
        ("Title: Lisbon weekend", "Lisbon weekend"),
        ("**Lisbon weekend**", "Lisbon weekend"),
        ("## Lisbon weekend.", "Lisbon weekend"),
        ("  Lots \t of\u00a0  space  ", "Lots of space"),
        ("First line\nan explanation the model added", "First line"),
        ("<think>The user wants a title.\nMaybe Lisbon?</think>\n\nLisbon trip planning", "Lisbon trip planning"),
        ("<THINK>upper-case tags</THINK> Kept", "Kept"),
        ("the opening tag was stripped by the server</think>Lisbon plans", "Lisbon plans"),
        ("Don't forget Lisbon's trams", "Don't forget Lisbon's trams"),
    ],
)
def test_clean_title_removes_what_a_title_must_not_have(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   \n ", "<think>cut off by max_tokens before any answer", '""', "..."])
def test_clean_title_gives_none_when_nothing_usable_is_left(raw: str | None) -> None:
    assert clean_title(raw) is None


def test_long_answer_is_cut_on_a_word_boundary_within_80_characters() -> None:
    # Given a 300-character answer of words
    raw = " ".join(["wordy"] * 50)[:300]

    # When it is cleaned
    title = clean_title(raw)

    # Then it fits, and no word is cut in half
    assert title is not None and len(title) <= TITLE_MAX_CHARS
    assert all(word == "wordy" for word in title.split())


def test_one_enormous_word_is_cut_hard_at_80_characters() -> None:
    assert clean_title("x" * 300) == "x" * TITLE_MAX_CHARS


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Hi! I love Lisbon. Can you plan a trip?", "I love Lisbon"),
        ("hello there, please help me plan a 5-day trip to Lisbon with kids and a dog", "Plan a 5-day trip to Lisbon with kids"),
        ("Can you help me plan a weekend trip to Lisbon with my dog Rex?", "Plan a weekend trip to Lisbon with my dog Rex?"),
        ("I'd like to learn about the history of Porto wine and its cellars", "Learn about the history of Porto wine and its cellars"),
        ("Please, could you tell me the best route from Porto to Lisbon by train and then by bus", "Tell me the best route from Porto to Lisbon"),
        ("Tell me about DynamoDB single-table design", "DynamoDB single-table design"),
        ('Good morning. What does "idempotent: yes" mean?', "What does idempotent yes mean?"),
        ("Hey", "Hey"),
    ],
)
def test_extractive_title_takes_the_key_phrase_of_the_first_message(message: str, expected: str) -> None:
    assert extractive_title(message) == expected


@pytest.mark.parametrize("message", ["", "   ", "???", "!!! ..."])
def test_extractive_title_gives_none_for_a_message_without_words(message: str) -> None:
    assert extractive_title(message) is None


def test_prompt_uses_default_instructions_and_truncates_the_message() -> None:
    system, prompt = build_prompt(None, "a" * (PROMPT_MAX_CHARS + 500))

    assert system == DEFAULT_TITLE_INSTRUCTIONS
    assert prompt == "a" * PROMPT_MAX_CHARS


def test_prompt_uses_configured_instructions() -> None:
    system, prompt = build_prompt("Title in Portuguese.", "  Quero ir a Lisboa  ")

    assert (system, prompt) == ("Title in Portuguese.", "Quero ir a Lisboa")
