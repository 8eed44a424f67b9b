from typing import Any

from accounts.models import User


def user_of(request: Any) -> User:
    """The signed-in user of a request that authentication already required.

    Views and APIs reach here only behind login_required / IsAuthenticated; the check makes an
    anonymous request fail loudly rather than reach a service.
    """
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionError("an authenticated user is required here")
    return user
