"""The one exception type the command line turns into a one-line message and exit code 2."""


class UsageError(ValueError):
    """Bad input from the user (a file, a row, an option): the message is shown as-is, without a traceback."""
