"""Who is asking, from where: set per request by the middleware, read by audit_record()."""

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestInfo:
    ip: str | None
    user_agent: str
    request_id: str
    # Refusals met while serving the request: NotAllowedError messages, and the ids of the
    # permission-denied audit events already written. audit.middleware records the rest.
    denials: list[str] = field(default_factory=list, compare=False)
    denials_recorded: list[int] = field(default_factory=list, compare=False)


_current: ContextVar[RequestInfo | None] = ContextVar("request_info", default=None)


def current_request_info() -> RequestInfo | None:
    return _current.get()


def note_denial(message: str) -> None:
    """Remember a refusal of this request (NotAllowedError calls this when it is created)."""
    info = _current.get()
    if info is not None:
        info.denials.append(message)


def set_request_info(info: RequestInfo | None) -> object:
    return _current.set(info)


def reset_request_info(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
