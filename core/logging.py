"""Log lines carry the id of the request they were written for (X-Request-ID).

The same id is in the response header, on the 500 page (so a user can quote it), and in every
audit event of the request: one search finds the log lines of what an auditor sees.
"""

import logging

from core.request_context import current_request_info


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record: the current request's id, or "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = current_request_info()
        record.request_id = info.request_id if info else "-"
        return True
