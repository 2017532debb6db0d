"""What identifying metadata a file carries, and the check that an output carries none."""
from .inspect import ALLOWED_IN_OUTPUT, found_metadata

__all__ = ["ALLOWED_IN_OUTPUT", "found_metadata"]
