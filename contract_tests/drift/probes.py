"""The probes a drift run sends, and what the profile says each one gets back. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from mock_server.contract.profiles import Profile

from ..routes import CLIP, ROUTES, path_of
from .model import Expectation, Probe

__all__ = [
    "BAD_JSON_BODY",
    "MAX_BATCH",
    "READ_ONLY_ROUTES",
    "build_probes",
    "id_in_format",
    "route_probes",
    "spend_probes",
]

MAX_BATCH = 100
BAD_JSON_BODY = b"x"
# Go's json decoder on the body above; gin's BindJSON copies it into the message (all versions).
_BAD_JSON_MESSAGE = "invalid character 'x' looking for beginning of value"
_SUCCESS_CT = "application/json"  # set explicitly by the fetch builders: no charset
_ERROR_CT = "application/json; charset=utf-8"
_SNIFFED_CT = "text/plain; charset=utf-8"  # gin writes the status before the header (§4 quirk)


def id_in_format(fmt: str, seed: str) -> str:
    """A syntactically valid id in ``fmt`` that no task has (derived from a random seed)."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"suno-contract-drift/{seed}")
    if fmt == "hex32":
        return digest.hex
    if fmt == "task_alnum32":
        return "task_" + "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(digest.hex))
    return str(digest)


def _ok(kind: str, data: str | None = None) -> Expectation:
    return Expectation(200, "task", _SUCCESS_CT, code="success", message="", kind=kind, data=data)


def _auth(profile: Profile, which: str) -> Expectation:
    return Expectation(
        401,
        "gateway",
        _ERROR_CT,
        code="",
        code_present=profile.gateway_error_code,
        error_type="new_api_error",
        message=profile.auth_message(which),
        kind="gateway-error",
    )


def build_probes(
    profile: Profile,
    known_ids: Sequence[str],
    *,
    max_single: int,
    seed: str,
    extra_ids: Sequence[str] = (),
) -> list[Probe]:
    """The read-only probes, in the order they are sent (the first one checks the key).

    ``extra_ids`` (tasks this run submitted) join the batch but are not required to be in it:
    the gateway inserts a task after answering its submit, so a quick fetch may miss it.
    """
    batch = tuple(known_ids[:MAX_BATCH])
    asked = [*batch, *extra_ids[: max(0, MAX_BATCH - len(batch))]]
    unknown = id_in_format(profile.id_format, seed)
    fetch = "/suno/fetch"
    probes: list[Probe] = []
    if asked:
        probes.append(
            Probe(
                "fetch-batch-known", "fetch-batch-known",
                f"batch fetch of {len(asked)} known task id(s)",
                "POST", fetch, "key", _ok("fetch-batch-response"),
                json_body={"ids": asked},
                body_description=f'{{"ids": [{len(asked)} known ids]}}',
                task_prefix="$.data[*]", known_ids=batch,
            )
        )
    for i, task_id in enumerate(known_ids[:max_single], 1):
        probes.append(
            Probe(
                "fetch-one-known", f"fetch-one-known #{i}", "single fetch of a known task id",
                "GET", f"{fetch}/{task_id}", "key", _ok("fetch-one-response"),
                task_prefix="$.data", known_ids=(task_id,),
            )
        )
    probes += [
        Probe(
            "fetch-batch-unknown", "fetch-batch-unknown",
            "batch fetch of an id no task has: nothing matched, data null",
            "POST", fetch, "key", _ok("fetch-batch-response", data="null"),
            json_body={"ids": [unknown]}, body_description='{"ids": [1 unknown id]}',
            task_prefix="$.data[*]",
        ),
        Probe(
            "fetch-one-unknown", "fetch-one-unknown",
            "single fetch of an id no task has: 400 task_not_exist",
            "GET", f"{fetch}/{unknown}", "key",
            Expectation(400, "task", _ERROR_CT, code="task_not_exist", message="task_not_exist",
                        kind="task-error"),
        ),
        Probe(
            "fetch-batch-empty", "fetch-batch-empty", "batch fetch of no ids: data []",
            "POST", fetch, "key", _ok("fetch-batch-response", data="empty"),
            json_body={"ids": []}, body_description='{"ids": []}', task_prefix="$.data[*]",
        ),
        Probe(
            "fetch-batch-bad-json", "fetch-batch-bad-json",
            "batch fetch with a body that is not JSON: 400 invalid_request, sniffed text/plain",
            "POST", fetch, "key",
            Expectation(400, "task", _SNIFFED_CT, code="invalid_request",
                        message=_BAD_JSON_MESSAGE, kind="task-error"),
            raw_body=BAD_JSON_BODY, body_description="not JSON: x",
        ),
        Probe(
            "auth-missing-key", "auth-missing-key",
            "batch fetch without Authorization: 401 gateway envelope",
            "POST", fetch, "none", _auth(profile, "missing"),
            json_body={"ids": []}, body_description='{"ids": []}',
        ),
        Probe(
            "auth-wrong-key", "auth-wrong-key",
            "batch fetch with a key the gateway does not know: 401 gateway envelope",
            "POST", fetch, "wrong", _auth(profile, "invalid"),
            json_body={"ids": []}, body_description='{"ids": []}',
        ),
    ]
    return probes


# The ElkAPI rows the drift check may call: they spend nothing and work on a clip.
READ_ONLY_ROUTES = tuple(r for r in ROUTES if not r.spends and r.needs == CLIP)
_NO_ROUTE_CT = "text/html; charset=utf-8"  # new-api's NoRoute: its web index page


def route_probes(profile: Profile, clip_ids: Sequence[str]) -> list[Probe]:
    """A GET of each read-only ElkAPI route for each clip (of the known finished MUSIC
    tasks), in every profile: where the profile lacks the route, its appearance is news."""
    probes = []
    for row in READ_ONLY_ROUTES:
        served = profile.surface in row.surfaces
        template = f"{row.method} {row.path}"
        expect = (
            Expectation(200, "other-json", _SUCCESS_CT, kind=row.schema) if served
            else Expectation(200, "no-route", _NO_ROUTE_CT)
        )
        for i, clip_id in enumerate(clip_ids, 1):
            described = (f"{row.name} of a known clip" if served else
                         f"{row.name} of a known clip: not a route of profile {profile.name}")
            probes.append(
                Probe(
                    f"route-{row.name}", f"route-{row.name} #{i}", described, row.method,
                    path_of(row, clip_id), "key", expect, route=template, route_served=served,
                )
            )
    return probes


_SPEND = (
    ("music", {"gpt_description_prompt": "a short calm piano piece", "mv": "chirp-v3-5"},
     '{"gpt_description_prompt": "a short calm piano piece", "mv": "chirp-v3-5"}'),
    ("lyrics", {"prompt": "a short verse about the weather"},
     '{"prompt": "a short verse about the weather"}'),
)


def spend_probes(profile: Profile, budget: int) -> list[Probe]:
    """At most ``budget`` submits (MUSIC first, then LYRICS); each spends credits."""
    out = []
    for action, body, described in _SPEND[: max(0, budget)]:
        out.append(
            Probe(
                f"submit-{action}", f"submit-{action}",
                f"submit {action.upper()} (spends credits; --allow-spend)",
                "POST", f"/suno/submit/{action}", "key",
                Expectation(200, "task", profile.submit_content_type, code="success",
                            message="", kind="submit-response"),
                json_body=body, body_description=described, spends=True,
            )
        )
    return out
