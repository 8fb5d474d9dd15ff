"""The one exception type the CLI turns into a one-line message and exit code 2."""


class InputError(Exception):
    """Bad user input (file, audio, manifest, model): the message names the file and the problem."""

    exit_code = 2
