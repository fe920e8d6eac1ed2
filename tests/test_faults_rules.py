"""Fault rules: the schema, parsing and its messages, lifetimes, seeded decisions (no HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import FixtureError
from mock_server.cli import main as suno_mock
from mock_server.contract.resources import schemas_dir
from mock_server.core.clock import ClockState
from mock_server.core.identity import owner_of
from mock_server.faults.rules import (
    COMMON,
    KINDS,
    FaultBook,
    FaultError,
    FaultRequest,
    Rule,
    bundled_fault_profiles,
    load_fault_profile,
    parse_header,
    parse_rules,
)
from mock_server.stores.memory import MemoryStore


def book(*base: dict) -> FaultBook:
    store = MemoryStore(lambda: ClockState.manual(0.0))
    return FaultBook(store, [r for raw in base for r in parse_rules(raw)])


def fetch(owner: str | None = "o_alice", ids: tuple[str, ...] = ()) -> FaultRequest:
    return FaultRequest("fetch_batch", lambda: owner, lambda: ids)


def test_the_schema_and_the_code_agree_on_every_kind_and_its_parameters():
    schema = json.loads((schemas_dir() / "fault.schema.json").read_text(encoding="utf-8"))
    rule = schema["definitions"]["rule"]
    per_kind = {
        branch["if"]["properties"]["fault"]["const"]: set(branch["then"]["propertyNames"]["enum"])
        for branch in rule["allOf"]
    }
    assert set(rule["properties"]["fault"]["enum"]) == set(KINDS) == set(per_kind)
    for kind, params in KINDS.items():
        assert per_kind[kind] == {*COMMON, *params}, kind
    assert set(rule["properties"]) == {*COMMON, *(p for ps in KINDS.values() for p in ps)}


def test_a_rule_and_a_fault_file_parse_to_the_same_rules():
    one = parse_rules({"fault": "status", "status": 429, "route": "fetch", "times": 2})
    rule = {"fault": "status", "status": 429, "route": "fetch", "times": 2}
    many = parse_rules({"rules": [rule]})
    assert one == many
    assert one[0].params == {"status": 429}
    assert one[0].routes == {"fetch_batch", "fetch_one"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"fault": "status", "status": 99}, "$.status: 99 is less than the minimum of 400"),
        ({"fault": "status"}, "$: 'status' is a required property"),
        ({"fault": "explode"}, "$.fault: 'explode' is not one of"),
        ({"fault": "latency", "seconds": 61}, "$.seconds:"),
        ({"fault": "status", "status": 429, "seconds": 3},
         "$.seconds: not a parameter of a 'status' fault (it takes status, envelope, code, "
         "message, retry_after)"),
        ({"fault": "status", "status": 429, "rate": 0}, "$.rate: 0 is less than or equal to"),
        ({"fault": "status", "status": 429, "times": 0}, "$.times: 0 is less than the minimum"),
        ({"fault": "disconnect", "route": "upload"}, "$.route:"),
        ({"fault": "shuffle", "route": "submit"},
         "$.route: a 'shuffle' fault applies to fetch_batch only"),
        ({"fault": "stuck", "route": "submit"},
         "$.route: a 'stuck' fault applies to fetch_batch and fetch_one only"),
        ({"fault": "latency", "seconds": {"min": 2, "max": 1}},
         "$.seconds: min must not exceed max"),
        ({"fault": "disconnect", "api_key": "k", "owner": "o_" + "0" * 24},
         "$: give api_key or owner, not both"),
        ({"fault": "disconnect", "bogus": 1}, "Additional properties are not allowed ('bogus'"),
        ([], "$: [] is not of type 'object'"),
        ({"rules": [{"fault": "disconnect"}, {"fault": "status", "status": 700}]},
         "$.rules[1].status: 700 is greater than the maximum of 599"),
        ({"rules": [{"fault": "disconnect", "id": "x"}, {"fault": "shuffle", "id": "x"}]},
         "$.rules: duplicate fault id(s) ['x']"),
    ],
)
def test_a_bad_rule_is_an_error_naming_its_json_path(payload, message):
    with pytest.raises(FaultError) as info:
        parse_rules(payload)
    assert message in str(info.value)


def test_an_api_key_is_stored_as_its_owner_never_as_the_key():
    faults = book()
    [rule] = faults.add({"fault": "status", "status": 401, "api_key": "sk-secret-key-1"})
    assert rule.owner == owner_of("sk-secret-key-1")
    assert "secret-key" not in json.dumps(faults.state.get_faults(""))
    assert "secret-key" not in json.dumps(faults.listing())


@pytest.mark.parametrize(
    ("header", "rule"),
    [
        ("status=429", {"fault": "status", "status": 429}),
        ("status=503; retry_after=7; envelope=html",
         {"fault": "status", "status": 503, "retry_after": 7, "envelope": "html"}),
        ("disconnect", {"fault": "disconnect"}),
        ("latency=0.25", {"fault": "latency", "seconds": 0.25}),
        ("fail_after=2; fail_reason=out of credits",
         {"fault": "fail_after", "polls": 2, "fail_reason": "out of credits"}),
        ("stuck=queued", {"fault": "stuck", "step": "queued"}),
        ('{"fault":"missing","count":2}', {"fault": "missing", "count": 2}),
        ("fault=truncate; bytes=10; close=false",
         {"fault": "truncate", "bytes": 10, "close": False}),
    ],
)
def test_the_header_shorthand_and_json_forms(header, rule):
    parsed = parse_header(header)
    assert parsed.one_off
    assert {"fault": parsed.fault, **parsed.params} == rule


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("status=4x", "$.status: '4x' is not of type 'integer'"),
        ("teapot", "$: start with a fault kind"),
        ("disconnect=3", "$: a 'disconnect' fault takes no value"),
        ("status=429; times=2", "$.times: not allowed in a per-request header"),
        ("status=429; retry_after", "$: expected key=value, got 'retry_after'"),
        ("{not json", "$: not JSON"),
        ("[1]", "$: start with a fault kind"),
        ('{"rules": []}', "$.rules: a header carries one rule"),
        ('{"fault": ' + "[" * 5000, "$: not JSON"),
    ],
)
def test_a_bad_header_is_an_error_naming_its_json_path(header, message):
    with pytest.raises(FaultError) as info:
        parse_header(header)
    assert message in str(info.value)


def test_bundled_profiles_load_by_name_and_unknown_names_list_them():
    assert bundled_fault_profiles() == ["flaky-network", "rate-limited", "slow-queue"]
    for name in bundled_fault_profiles():
        assert load_fault_profile(name)
    with pytest.raises(FixtureError, match="bundled: flaky-network, rate-limited, slow-queue"):
        load_fault_profile("chaos")


def test_a_bad_fault_file_names_the_file_and_path_also_in_validate(tmp_path, capsys):
    path = tmp_path / "faults" / "chaos.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"rules": [{"fault": "hang", "seconds": 301}]}), encoding="utf-8")
    with pytest.raises(FixtureError, match=r"chaos.json: invalid fault: \$\.rules\[0\]\.seconds"):
        load_fault_profile(str(path))
    assert suno_mock(["validate", str(path)]) == 1
    assert "$.rules[0].seconds: 301 is greater than the maximum of 300" in capsys.readouterr().out


def test_times_fires_exactly_n_times_and_the_listing_counts():
    faults = book()
    faults.add({"fault": "status", "status": 429, "times": 2, "id": "twice"})
    fired = [faults.decide(fetch()).outcome is not None for _ in range(5)]
    assert fired == [True, True, False, False, False]
    assert faults.listing() == [
        {"id": "twice", "fault": "status", "status": 429, "times": 2, "remaining": 0, "fired": 2}
    ]


def statuses(faults: FaultBook, n: int = 200) -> list[bool]:
    return [faults.decide(fetch()).outcome is not None for _ in range(n)]


def test_a_seeded_rate_repeats_exactly_and_a_new_seed_changes_it():
    rule = {"fault": "status", "status": 503, "rate": 0.25, "seed": 7}
    first, second = statuses(book(rule)), statuses(book(rule))
    assert first == second
    assert 30 <= sum(first) <= 70  # about a quarter of 200
    assert statuses(book({**rule, "seed": 8})) != first


def test_seeded_decisions_do_not_depend_on_other_rules_or_on_ids():
    rule = {"fault": "status", "status": 503, "rate": 0.5, "seed": 3}
    alone = statuses(book(rule), 50)
    crowded = book({"fault": "latency", "seconds": 0.0, "id": "before"}, {**rule, "id": "other"})
    assert statuses(crowded, 50) == alone


def test_random_latency_is_seeded_and_within_its_bounds():
    rule = {"fault": "latency", "seconds": {"min": 0.1, "max": 0.3}, "seed": 5}
    draws = [book(rule).decide(fetch()).latency for _ in range(3)]
    assert len(set(draws)) == 1  # a fresh book: the same first draw
    faults = book(rule)
    values = [faults.decide(fetch()).latency for _ in range(100)]
    assert all(0.1 <= v <= 0.3 for v in values) and len(set(values)) > 50
    tail = book({"fault": "latency", "seconds": {"mean": 0.05, "max": 0.2}, "seed": 5})
    assert max(tail.decide(fetch()).latency for _ in range(200)) <= 0.2


def test_scope_by_owner_route_and_task_id():
    faults = book()
    faults.add({"fault": "status", "status": 401, "api_key": "key-a", "id": "a"})
    faults.add({"fault": "status", "status": 500, "route": "submit", "id": "s"})
    faults.add({"fault": "status", "status": 502, "task_id": "t1", "id": "t"})
    a, b = owner_of("key-a"), owner_of("key-b")

    def outcome(request: FaultRequest) -> str | None:
        rule = faults.decide(request).outcome
        return rule.id if rule else None

    assert outcome(fetch(a)) == "a"
    assert outcome(fetch(b)) is None
    assert outcome(FaultRequest("submit", lambda: b)) == "s"
    assert outcome(fetch(b, ("t0", "t1"))) == "t"
    assert outcome(FaultRequest("fetch_one", lambda: None, lambda: ("t1",))) == "t"
    assert outcome(FaultRequest(None, lambda: None)) is None  # an unknown path under /suno/


def test_only_the_first_matching_outcome_fires_and_latencies_add_up():
    faults = book(
        {"fault": "latency", "seconds": 0.2},
        {"fault": "status", "status": 429, "id": "first"},
        {"fault": "latency", "seconds": 0.3},
        {"fault": "disconnect", "id": "second", "times": 1},
    )
    plan = faults.decide(fetch())
    assert plan.outcome is not None and plan.outcome.id == "first"
    assert plan.latency == pytest.approx(0.5)
    assert faults.listing()[3]["remaining"] == 1  # not used up by a request it did not hit


def test_start_rules_come_back_after_a_reset_and_ids_are_never_reused():
    store = MemoryStore(lambda: ClockState.manual(0.0))
    faults = FaultBook(store, parse_rules({"fault": "status", "status": 429, "times": 1}))
    assert [r.id for r in faults.rules()] == ["p1"]
    assert faults.clear() == 1 and faults.rules() == []
    faults.add({"fault": "status", "status": 500, "times": 1, "id": "again"})
    assert faults.decide(fetch()).outcome is not None
    assert faults.remove("again") and not faults.remove("again")
    faults.add({"fault": "status", "status": 500, "times": 1, "id": "again"})
    assert faults.decide(fetch()).outcome is not None  # a new rule: a new count
    store.reset("")
    assert [r.id for r in faults.rules()] == ["p1"]
    assert faults.listing()[0]["remaining"] == 1
    with pytest.raises(FaultError, match="a fault with id 'p1' exists already"):
        faults.add({"fault": "disconnect", "id": "p1"})


def test_namespaces_keep_their_own_rules_and_counts():
    faults = book()
    faults.add({"fault": "status", "status": 429, "times": 1}, "team-a")
    assert faults.decide(fetch(), "team-b").outcome is None
    assert faults.decide(fetch(), "team-a").outcome is not None
    assert faults.decide(fetch(), "team-a").outcome is None


def test_clearing_releases_a_waiting_hang():
    faults = book()
    import threading

    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(faults.wait(30)))
    waiter.start()
    for _ in range(200):  # until the waiter waits (bounded)
        faults.release()
        waiter.join(0.01)
        if not waiter.is_alive():
            break
    assert result == [True]


def test_example_rules_in_the_faults_guide_are_valid(tmp_path: Path):
    # Every JSON rule shown in the faults guide is accepted as written.
    guide = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "faults.md"
    section = guide.read_text(encoding="utf-8")
    rules = [
        json.loads(line.split("-d '", 1)[1].split("'", 1)[0])
        for line in section.splitlines()
        if "/__mock/faults -d '" in line
    ]
    assert len(rules) == 2
    for rule in rules:
        parse_rules(rule)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from([*COMMON, "seconds", "status", "polls", "step", "min", "max", "rules"])
        | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60) | st.builds(
    lambda kind, rest: f"{kind}{rest}", st.sampled_from(list(KINDS)), st.text(max_size=40)))
def test_any_header_is_a_rule_or_a_fault_error(text):
    try:
        rule = parse_header(text)
    except FaultError as exc:
        assert str(exc).startswith("$")  # every message names its JSON path
    else:
        assert rule.one_off and rule.fault in KINDS


@settings(max_examples=300, deadline=None)
@given(payload=json_values | st.fixed_dictionaries(
    {"fault": st.sampled_from(list(KINDS))}, optional={"seconds": json_values,
                                                       "route": json_values,
                                                       "step": json_values}))
def test_any_json_is_rules_or_a_fault_error(payload):
    try:
        rules = parse_rules(payload)
    except FaultError as exc:
        assert str(exc).startswith("$")
    else:
        assert all(Rule.from_stored(r.to_dict()) == r for r in rules)  # stored form round-trips
