"""The actions registry (mock_server.core.actions) and the data files that name actions agree."""

from __future__ import annotations

import pytest

from mock_server import ScenarioBook, resolved_schema
from mock_server.core.actions import (
    ACTIONS,
    MUSIC_TASK_KINDS,
    MUSIC_TASKS,
    STEM_GROUPS,
    SUBMIT_FIELDS,
    stems_of,
)
from mock_server.core.config import Config
from mock_server.errors import ConfigError, FixtureError
from mock_server.service.mock_service import MockService


def test_the_scenario_schema_lists_the_registry_actions() -> None:
    # schemas/ stay data: a new action is a row in ACTIONS and its name in this enum.
    assert resolved_schema("scenario")["properties"]["action"]["enum"] == list(ACTIONS)


def test_the_submit_request_schema_has_the_bound_fields() -> None:
    assert sorted(resolved_schema("submit-request")["properties"]) == sorted(SUBMIT_FIELDS)


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_action_row_is_consistent(name: str) -> None:
    action = ACTIONS[name]
    assert action.name == name == name.upper()
    assert action.model == "suno_" + name.lower()
    assert set(action.kept) <= set(action.bind)
    assert set(action.required) <= set(action.bind)
    step = resolved_schema("scenario")["properties"]["steps"]["items"]
    assert action.data in step["properties"]["data"]["enum"]
    default = ScenarioBook(()).get(action.default_scenario)
    assert default.action == name
    assert Config().default_scenarios[name] == action.default_scenario


def test_required_fields_name_their_message() -> None:
    assert ACTIONS["LYRICS"].missing({"prompt": ""}) == "prompt_empty"
    assert ACTIONS["LYRICS"].missing({"prompt": "words"}) is None
    assert ACTIONS["MUSIC"].missing({}) is None


def test_a_config_naming_some_default_scenarios_keeps_the_others():
    # Written before a newer action existed, such a Config must still serve it (was a 500).
    config = Config(default_scenarios={"MUSIC": "music_instant"})
    assert config.default_scenarios["MUSIC"] == "music_instant"
    assert config.default_scenarios["PERSONA"] == ACTIONS["PERSONA"].default_scenario


@pytest.mark.parametrize("task", MUSIC_TASKS)
def test_each_music_task_kind_has_a_bundled_music_scenario(task: str) -> None:
    kind = MUSIC_TASK_KINDS[task]
    assert kind.name == task
    scenario = ScenarioBook(()).get(kind.default_scenario)
    assert scenario.action == "MUSIC" and scenario.steps[-1].status == "SUCCESS"
    assert Config().default_scenario("MUSIC", task) == kind.default_scenario
    assert Config().default_scenario("MUSIC") == ACTIONS["MUSIC"].default_scenario


def test_a_config_may_name_a_kinds_scenario_and_a_changed_music_default_covers_the_rest():
    config = Config(default_scenarios={"MUSIC": "music_instant", "MUSIC:extend": "music_stuck"})
    assert config.default_scenario("MUSIC", "extend") == "music_stuck"
    assert config.default_scenario("MUSIC", "cover") == "music_instant"
    assert config.default_scenario("MUSIC") == "music_instant"
    # Naming MUSIC's bundled default changes nothing: the kinds keep their own.
    assert Config(default_scenarios={"MUSIC": "music_success"}).default_scenario(
        "MUSIC", "cover") == "cover_success"


@pytest.mark.parametrize("key", ["MUSIC:remix", "LYRICS:extend", "SONG", "MUSIC:"])
def test_a_config_naming_no_action_or_kind_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="neither an action"):
        Config(default_scenarios={key: "music_success"})


def test_a_kinds_scenario_must_be_a_music_scenario() -> None:
    with pytest.raises(FixtureError, match="not a MUSIC scenario"):
        MockService(Config(default_scenarios={"MUSIC:cover": "lyrics_success"}))


def test_stem_groups_are_matched_in_any_case_and_default_to_two() -> None:
    assert stems_of({"stem_type_group_name": "twelve"}) == STEM_GROUPS["Twelve"]
    assert stems_of({"stem_task": "TWO"}) == STEM_GROUPS["Two"]
    assert stems_of({"stem_type_group_name": 5, "stem_task": "twelve"}) == STEM_GROUPS["Twelve"]
    assert stems_of({}) == ("Vocals", "Instrumental")
