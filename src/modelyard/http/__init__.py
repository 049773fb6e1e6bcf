"""HTTP plumbing shared by both ASGI apps (the team server and the scoring server): capped
body reading, JSON parsing and answers, the one table that maps errors to status codes, and
bearer-token primitives. Nothing here knows a route."""

from modelyard.http._errors import (
    NAME_LIMIT,
    STATUS,
    PayloadTooLarge,
    cap_message,
    error_response,
    json_response,
    parse_json,
    read_body,
    receive_body,
    shown,
)
from modelyard.http._tokens import TOKEN_PREFIX, hash_token, new_token

__all__ = [
    "NAME_LIMIT",
    "STATUS",
    "TOKEN_PREFIX",
    "PayloadTooLarge",
    "cap_message",
    "error_response",
    "hash_token",
    "json_response",
    "new_token",
    "parse_json",
    "read_body",
    "receive_body",
    "shown",
]
