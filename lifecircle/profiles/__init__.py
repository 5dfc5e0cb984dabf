"""Standards profiles (see :mod:`lifecircle.profiles.profile`)."""

from .profile import *  # noqa: F403
from .profile import profile_from_dict  # noqa: F401
