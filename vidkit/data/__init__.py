"""Data: MNIST digits, bouncing Moving MNIST, the actions suite, and torch dataset wrappers."""

from vidkit.data.actions import (
    ACTION_GERUNDS,
    ACTION_VERBS,
    ACTIONS,
    CAPTION_TEMPLATES,
    DIGIT_WORDS,
    QUADRANTS,
    SUBJECT_TEMPLATES,
    ActionClips,
    ActionsDataset,
    all_captions,
    captions_for,
    generate_actions,
)
from vidkit.data.digits import DigitFileError, data_dir, load_digits, read_idx
from vidkit.data.moving_mnist import MovingMNIST, exact_flow, generate_moving_mnist
from vidkit.data.streams import MovingMNISTDataset, MovingMNISTIterable, MovingMNISTStream
from vidkit.data.testset import (
    KNOWN_SHA256,
    TEST_SEED,
    VAL_SEED,
    build_test_set,
    cached_test_path,
    load_official,
    load_test_set,
    load_val_set,
    verify_test_set,
)

__all__ = [
    "ACTIONS", "ACTION_GERUNDS", "ACTION_VERBS", "CAPTION_TEMPLATES", "DIGIT_WORDS", "QUADRANTS",
    "SUBJECT_TEMPLATES", "ActionClips", "ActionsDataset", "all_captions", "captions_for", "generate_actions",
    "DigitFileError", "data_dir", "load_digits", "read_idx",
    "MovingMNIST", "exact_flow", "generate_moving_mnist",
    "MovingMNISTDataset", "MovingMNISTIterable", "MovingMNISTStream",
    "KNOWN_SHA256", "TEST_SEED", "build_test_set", "cached_test_path", "load_official", "load_test_set",
    "VAL_SEED", "load_val_set", "verify_test_set",
]
