"""The one exception type the CLI turns into a one-line message and exit code 2."""


class InputError(Exception):
    """Bad user input (file, audio, manifest, model): the message names the file and the problem."""

    exit_code = 2


def os_reason(exc: OSError) -> str:
    """What went wrong in an OSError, for a one-line message: 'No space left on device', or the
    text of an error that carries no errno (numpy's short write)."""
    return exc.strerror or str(exc) or type(exc).__name__
