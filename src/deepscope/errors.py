"""The one exception type deepscope raises for bad input.

Every message says what was wrong, what was expected, and what to do; the CLI turns a
:class:`DeepscopeError` into a one-line message and a non-zero exit instead of a traceback.
"""


class DeepscopeError(ValueError):
    """Bad input or an impossible request, explained for a person."""
