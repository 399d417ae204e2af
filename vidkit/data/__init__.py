"""Data: MNIST digits, bouncing Moving MNIST, the actions suite, and torch dataset wrappers."""

from vidkit.data.digits import DigitFileError, data_dir, load_digits, read_idx

__all__ = ["DigitFileError", "data_dir", "load_digits", "read_idx"]
