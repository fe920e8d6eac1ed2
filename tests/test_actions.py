"""The actions registry (mock_server.core.actions) and the data files that name actions agree."""

from __future__ import annotations

import pytest

from mock_server import ScenarioBook, resolved_schema
from mock_server.core.actions import ACTIONS, SUBMIT_FIELDS
from mock_server.core.config import Config


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
