"""Access control for the team server: bearer tokens (stored hashed) mapped to users, whose
global role (viewer, editor, admin) may be replaced per experiment and per registered model."""

from modelyard.server.auth._authorizer import Authorizer, role_at_least
from modelyard.server.auth._users import create_user, new_user_token

__all__ = ["Authorizer", "create_user", "new_user_token", "role_at_least"]
