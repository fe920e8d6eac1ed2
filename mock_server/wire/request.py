"""Reading a request as the gateway does: the API key, our X-Mock-* headers, the bound fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mock_server.errors import BadNamespace

__all__ = [
    "FAULT_HEADER",
    "FETCH_FIELDS",
    "FETCH_GO_TYPE",
    "NAMESPACE_HEADER",
    "NAMESPACE_LIMIT",
    "SCENARIO_HEADER",
    "api_key_of",
    "environ_key",
    "mimetype_of",
    "namespace_for_log",
    "namespace_of",
    "origin_of",
]

SCENARIO_HEADER = "X-Mock-Scenario"
NAMESPACE_HEADER = "X-Mock-Namespace"
FAULT_HEADER = "X-Mock-Fault"
# The batch fetch body, as new-api binds it: struct{IDs []any; Action string}.
FETCH_FIELDS: dict[str, tuple[type, ...]] = {"ids": (list,), "action": (str,)}
FETCH_GO_TYPE = 'struct { IDs []interface {} "json:\\"ids\\""; Action string "json:\\"action\\"" }'
# Namespaces name CI jobs; longer ones are refused, never cut (two names alike in their first
# 128 characters would share tasks).
NAMESPACE_LIMIT = 128


def environ_key(header: str) -> str:
    """The WSGI environ key of ``header`` (HTTP_X_MOCK_NAMESPACE for X-Mock-Namespace)."""
    return "HTTP_" + header.upper().replace("-", "_")


_NAMESPACE_ENVIRON = environ_key(NAMESPACE_HEADER)


def namespace_of(environ: Mapping[str, Any]) -> str:
    """The caller's namespace (X-Mock-Namespace), read straight from the WSGI environ.

    Raises BadNamespace (a 400 invalid_request) for one longer than NAMESPACE_LIMIT.
    """
    ns = str(environ.get(_NAMESPACE_ENVIRON, ""))
    if len(ns) > NAMESPACE_LIMIT:
        raise BadNamespace(
            f"{NAMESPACE_HEADER} is {len(ns)} characters long; at most {NAMESPACE_LIMIT} "
            "are allowed"
        )
    return ns


def namespace_for_log(environ: Mapping[str, Any]) -> str:
    """The namespace for a log line: as sent, an over-long one cut and marked with "…"."""
    ns = str(environ.get(_NAMESPACE_ENVIRON, ""))
    return ns if len(ns) <= NAMESPACE_LIMIT else ns[:NAMESPACE_LIMIT] + "…"


def mimetype_of(content_type: str) -> str:
    """The media type of a Content-Type value, lower case and without parameters, exactly as
    werkzeug's ``Request.mimetype`` reads it ("" when there is none)."""
    return content_type.partition(";")[0].strip(" \t").lower()


def origin_of(environ: Mapping[str, Any]) -> str:
    """scheme://host[:port] the client reached us at (its Host header, as it sent it)."""
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def api_key_of(environ: Mapping[str, Any], lowercase_bearer: bool) -> str:
    """The key a request carries, read as TokenAuth reads it ("" when there is none)."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    key = ""
    prefixes = ("Bearer ", "bearer ") if lowercase_bearer else ("Bearer ",)
    for prefix in prefixes:
        if header.startswith(prefix):
            key = header[len(prefix) :].strip()
            break
    if key in ("", "midjourney-proxy"):
        key = str(environ.get("HTTP_MJ_API_SECRET", "")).strip()
    return key
