"""Data: MNIST digits, bouncing Moving MNIST, the actions suite, subtitled episodes of actions, their sound tracks
and noisy narration, and torch dataset wrappers."""

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
from vidkit.data.audio import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    VOICE_F0,
    Soundtrack,
    action_events,
    actions_audio,
    attach_audio,
    bounce_frames,
    check_audio,
    clip_audio,
    log_mel,
    mel_frames_per_video_frame,
    mel_frequencies,
    moving_mnist_audio,
    synthesize,
    voice_frequency,
)
from vidkit.data.digits import DigitFileError, data_dir, load_digits, read_idx
from vidkit.data.episodes import (
    COMPOSITIONS,
    HELD_OUT_COMBOS,
    HELD_OUT_ORDERS,
    Episodes,
    check_subtitle_spans,
    first_action_pairs,
    generate_episodes,
)
from vidkit.data.moving_mnist import MovingMNIST, exact_flow, generate_moving_mnist, pixels_to_float
from vidkit.data.narration import ALIGNED, FILLER, KIND_NAMES, NEIGHBOUR, Narration, narrate, narrate_pools
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
    "SAMPLE_RATE", "SAMPLES_PER_FRAME", "VOICE_F0", "Soundtrack", "action_events", "actions_audio", "attach_audio",
    "bounce_frames", "check_audio", "clip_audio", "log_mel", "mel_frames_per_video_frame", "mel_frequencies",
    "moving_mnist_audio", "synthesize", "voice_frequency",
    "ALIGNED", "FILLER", "KIND_NAMES", "NEIGHBOUR", "Narration", "narrate", "narrate_pools",
    "COMPOSITIONS", "HELD_OUT_COMBOS", "HELD_OUT_ORDERS", "Episodes", "check_subtitle_spans",
    "first_action_pairs", "generate_episodes",
    "DigitFileError", "data_dir", "load_digits", "read_idx",
    "MovingMNIST", "exact_flow", "generate_moving_mnist", "pixels_to_float",
    "MovingMNISTDataset", "MovingMNISTIterable", "MovingMNISTStream",
    "KNOWN_SHA256", "TEST_SEED", "build_test_set", "cached_test_path", "load_official", "load_test_set",
    "VAL_SEED", "load_val_set", "verify_test_set",
]
