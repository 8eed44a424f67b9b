"""One password check at a time per account, so that the login lock-out counts every guess.

django-axes reads an account's failure count before the password is checked and writes the new
count after. Without more, N guesses sent at once all read the same count and all get their
password checked: 30 concurrent guesses against a limit of 5 had 30 checked (measured,
tests/security/test_brute_force.py). Holding a transaction-scoped advisory lock keyed on the
email across the whole attempt (lock-out check, password hash, failure record) makes the next
attempt on that email wait and then read the updated count. Different emails do not wait for
each other (apart from rare hash collisions, which only make two logins take turns). The block
must end without an exception, or the failure axes recorded in it is rolled back.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def one_attempt_at_a_time(username: object) -> Iterator[None]:
    key = f"login:{str(username or '').strip().lower()}"
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])
        # SQLite (the local default) already lets one writer in at a time.
        yield
