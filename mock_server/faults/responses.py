"""What a status fault puts on the wire: the envelope the live stack uses for that status.

Sources: ../shared/reference/suno-contract.md §2 (auth, gateway envelope) and §3 (task envelope,
the 429 rewrite, the error table). 502/504 (and 503 on a fetch, where the gateway looks up no
channel) come from the reverse proxy in front of the gateway, so they are its HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from mock_server.contract.profiles import Profile
from mock_server.faults.rules import Rule
from mock_server.wire.envelopes import HTML_UTF8, INDEX_HTML, JSON_UTF8, gateway_error, task_error

__all__ = ["FaultResponse", "not_json_response", "status_response"]

SATURATED = "当前分组上游负载已饱和，请稍后再试"  # TaskErrorWrapper's text for any 429
REVOKED_OLD = "该令牌状态不可用"  # token disabled, gateways up to 2026-04-11
HTML = "text/html"


@dataclass(frozen=True)
class FaultResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def proxy_page(status: int) -> bytes:
    """nginx's error page for ``status``, byte for byte."""
    title = f"{status} {_reason(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _revoked(profile: Profile, language: str) -> str:
    # Old gateways name the case; from 2026-04-12 every token failure is "Invalid token".
    if profile.auth_messages.get("missing") != profile.auth_messages.get("invalid"):
        return REVOKED_OLD
    return profile.auth_message("invalid", language)


def _quota(profile: Profile) -> tuple[str, str]:
    if profile.id_format == "task_alnum32":  # the ≥2026-02-22 task controller
        return "insufficient_user_quota", "用户额度不足, 剩余额度: 0"
    return "quota_not_enough", "user quota is not enough"


def _task_defaults(status: int, route: str | None) -> tuple[str, str]:
    if status == 429:
        return "fail_to_fetch_task", SATURATED
    if status == 500:
        if route == "fetch_batch":
            return "get_tasks_failed", "Error 1040: Too many connections"
        if route == "fetch_one":
            return "get_task_failed", "Error 1040: Too many connections"
        return "do_request_failed", "请求上游地址失败"
    if status == 400:
        return "invalid_request", "invalid_request"
    return "fail_to_fetch_task", f"status code {status}"


def _default_envelope(status: int, route: str | None) -> str:
    if status == 401:
        return "gateway"
    if status == 503:
        return "gateway" if route == "submit" else "html"
    if status in (502, 504) or (status > 500 and status != 503):
        return "html"
    return "task"


def status_response(
    rule: Rule,
    route: str | None,
    profile: Profile,
    request_id: str,
    language: str = "",
    *,
    model: str = "suno_music",
) -> FaultResponse:
    """The response of a ``status`` fault on ``route`` (``model``: the submit's channel model)."""
    status = int(rule.params["status"])
    envelope = rule.params.get("envelope") or _default_envelope(status, route)
    headers: dict[str, str] = {}
    retry_after = rule.params.get("retry_after", 1 if status == 429 else None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if envelope == "html":
        return FaultResponse(status, proxy_page(status), HTML, headers)
    if envelope == "empty":
        return FaultResponse(status, b"", JSON_UTF8, headers)
    if envelope == "gateway":
        if status == 401:
            code, message = "", _revoked(profile, language)
        elif status == 503:
            code, message = "model_not_found", profile.no_channel_message.format(model=model)
        elif status == 403:
            code, message = "access_denied", "该令牌无权访问模型 "
        else:
            code, message = "", _reason(status)
        wire = gateway_error(
            status,
            rule.params.get("message", message),
            request_id,
            code=rule.params.get("code", code),
            with_code=profile.gateway_error_code,
        )
        return FaultResponse(wire.status, wire.body, wire.content_type, headers)
    if status == 403:
        code, message = _quota(profile)
    elif status == 401:
        code, message = "invalid_request", _revoked(profile, language)
    else:
        code, message = _task_defaults(status, route)
    wire = task_error(status, rule.params.get("code", code), rule.params.get("message", message))
    return FaultResponse(wire.status, wire.body, wire.content_type, headers)


def not_json_response(rule: Rule) -> FaultResponse:
    """A body that does not parse as JSON (default: the web UI's page, 200, text/html)."""
    return FaultResponse(
        int(rule.params.get("status", 200)),
        rule.params["body"].encode("utf-8") if "body" in rule.params else INDEX_HTML,
        rule.params.get("content_type", HTML_UTF8),
    )
