"""A plain HTTP client for the fault tests: what a real API client sends, one connection per
request, every answer logged with its time (status 0 means no HTTP answer at all)."""

import http.client
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    method: str
    path: str
    status: int  # 0: no answer (connection refused, reset, timeout)
    seconds: float
    started: float  # time.time() when the request was sent
    body: Any = None
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return self.body if isinstance(self.body, dict | list) else {}


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    """multipart/form-data body and its content type: fields, and files as (name, data, type)."""
    boundary = f"----cv-faults-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class ApiClient:
    def __init__(self, port: int, token: str, timeout: float = 30) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.log: list[Answer] = []

    def send(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> Answer:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        started, wall = time.perf_counter(), time.time()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            seconds = time.perf_counter() - started
            try:
                parsed: Any = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw[:500]
            answer = Answer(
                method, path, response.status, seconds, wall, parsed,
                headers={k.lower(): v for k, v in response.getheaders()},
            )  # fmt: skip
        except (OSError, http.client.HTTPException) as exc:
            answer = Answer(
                method, path, 0, time.perf_counter() - started, wall,
                error=f"{type(exc).__name__}: {exc}",
            )  # fmt: skip
        finally:
            conn.close()
        self.log.append(answer)
        return answer

    def post_json(self, path: str, payload: Any) -> Answer:
        return self.send("POST", path, json.dumps(payload).encode(), "application/json")

    def patch_json(self, path: str, payload: Any) -> Answer:
        return self.send("PATCH", path, json.dumps(payload).encode(), "application/json")
