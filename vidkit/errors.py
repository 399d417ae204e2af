"""The kit's expected errors: failures a user can fix, each with a message that names the file or value
and says what to do. The ``vidkit`` command prints them as one line (exit code 2; ``--debug`` shows the
traceback); a bug still ends in a traceback.
"""

from __future__ import annotations

__all__ = ["VidkitError", "CheckpointError", "DataCacheError", "DataFileError", "WriteError"]


class VidkitError(Exception):
    """An expected failure whose message names the file or value and what to do."""


class CheckpointError(VidkitError, RuntimeError):
    """A file could not be loaded as a vidkit checkpoint (the message names the file)."""


class DataCacheError(VidkitError, ValueError):
    """A cached data file is corrupt or does not match its recorded hash (the message names the file)."""


class DataFileError(VidkitError, ValueError):
    """A data file the user supplied (official ``mnist_test_seq.npy``, MNIST IDX files) is unreadable or not in
    the expected layout: the message names the file, what was expected and what it holds."""


class WriteError(VidkitError, OSError):
    """A file could not be written (read-only folder, full disk...): the message names the path."""
