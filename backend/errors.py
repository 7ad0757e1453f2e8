"""Domain errors with stable codes, and the catalogue the OpenAPI document lists.

Services raise ``DomainError`` subclasses; one handler (``backend.http.errors``) renders every
error as ``{"error": {"code", "message", "details"}}``. Codes never change once published;
messages default to zh-CN.
"""

from __future__ import annotations

from typing import Any, ClassVar

# code -> (http status, default zh-CN message). Every code any endpoint can answer is here, so the
# served OpenAPI document can list them all.
CATALOGUE: dict[str, tuple[int, str]] = {}


def register(code: str, status: int, message: str) -> str:
    existing = CATALOGUE.get(code)
    if existing and existing != (status, message):
        raise RuntimeError(f"error code {code} registered twice with different meanings")
    CATALOGUE[code] = (status, message)
    return code


class DomainError(Exception):
    """A failure the caller can act on: a stable ``code``, an HTTP status and details."""

    code: ClassVar[str] = "DOMAIN_ERROR"
    status: ClassVar[int] = 400
    message: ClassVar[str] = "请求无法完成"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None,
                 code: str | None = None, status: int | None = None) -> None:
        self.code = code or type(self).code
        self.status = status or CATALOGUE.get(self.code, (type(self).status,))[0]
        self.message = message or CATALOGUE.get(self.code, (0, type(self).message))[1]
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            register(cls.code, cls.status, cls.message)


def error(code: str, status: int, message: str) -> type[DomainError]:
    """Declare a DomainError subclass in one line: ``PhoneBound = error("PHONE_BOUND_ELSEWHERE", 409, "...")``."""
    name = "".join(part.title() for part in code.split("_")) + "Error"
    return type(name, (DomainError,), {"code": code, "status": status, "message": message})


ValidationFailed = error("VALIDATION_FAILED", 400, "请求参数不正确")
Unauthenticated = error("UNAUTHENTICATED", 401, "请先登录或重新登录")
Forbidden = error("FORBIDDEN", 403, "没有权限执行此操作")
NotFound = error("NOT_FOUND", 404, "请求的资源不存在")
MethodNotAllowed = error("METHOD_NOT_ALLOWED", 405, "不支持该请求方法")
Conflict = error("CONFLICT", 409, "状态冲突，请刷新后重试")
IdempotencyInFlight = error("IDEMPOTENCY_IN_FLIGHT", 409, "相同请求正在处理中，请稍后重试")
IdempotencyKeyReused = error("IDEMPOTENCY_KEY_REUSED", 422, "幂等键已用于另一个不同的请求")
PayloadTooLarge = error("PAYLOAD_TOO_LARGE", 413, "请求内容过大")
RateLimited = error("RATE_LIMITED", 429, "请求过于频繁，请稍后再试")
DependencyUnavailable = error("DEPENDENCY_UNAVAILABLE", 503, "服务暂时不可用，请稍后重试")
InternalError = error("INTERNAL_ERROR", 500, "服务器内部错误")


def field_errors(errors: dict[str, str]) -> ValidationFailed:
    """A 400 naming each bad field: ``{"fields": {"phone": "手机号格式不正确"}}``."""
    return ValidationFailed(details={"fields": errors})
