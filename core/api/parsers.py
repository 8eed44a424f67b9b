"""A JSON parser that keeps numbers exactly as the client wrote them.

`json` turns 150000.50 into a binary float and 1.5e5 into 150000.0, which loses the text that
money validation needs (sub-cent precision, scientific notation). Here non-integer numbers arrive
as `JsonNumber` strings and integers stay ints, so core.money can judge the literal.
"""

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JsonNumber(str):
    """The literal text of a JSON number that was not a plain integer."""


class ExactJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(
                text,
                parse_float=JsonNumber,
                parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)),
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The request body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("The request body nests too deeply.") from exc
