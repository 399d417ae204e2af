"""A sound track for every clip, synthesised from the scene's own metadata, and log-mel spectrograms (MMV).

MMV (Alayrac et al. 2020) learns from video, audio and text. The kit's clips are silent, so each clip gets a
sound track computed from the same ground truth that drew its frames; every part of the sound is a fact
about the scene that a test can check:

* **Timing.** ``SAMPLE_RATE = 8000`` Hz and ``SAMPLES_PER_FRAME = 800``: video frame ``t`` owns samples
  ``[t * 800, (t + 1) * 800)`` (10 video frames per second, MMV's frame rate), so a clip of ``T`` frames has
  ``T * 800`` samples. Both are arguments; the rule ``sample = frame * samples_per_frame`` always holds.
* **What: a voice per digit.** A sounding digit of class ``d`` hums a sustained harmonic tone with
  fundamental ``VOICE_F0[d] = 200 * 2 ** (d / 6)`` Hz (whole tones from 200 Hz to 566 Hz) and harmonics
  ``1..4`` with amplitudes ``1, 1/2, 1/3, 1/4`` (normalised, random phases). The fundamental is the loudest
  partial, so the strongest peak of a one-digit track's spectrum names the digit; all partials stay below
  2.3 kHz. A 10 ms fade in and out avoids clicks at the clip's ends.
* **When: percussive onsets.** An onset is a knock, a burst of white noise (random signs, peak 1) with an
  instant attack and an exponential decay (``CLICK_DECAY_S = 6 ms``, cut after 40 ms or one frame), starting exactly at sample
  ``t * samples_per_frame`` of its frame ``t``. Its energy above 3 kHz (where no voice sounds) marks it.

  - Moving MNIST: a knock at every **bounce**, a frame ``t >= 1`` where a velocity component of the digit
    changes sign between frames ``t - 1`` and ``t`` (:func:`bounce_frames`; equal to the generator's
    ``bounces[:, 1:]``). A reflection during the very first step (frame 0) has no earlier frame to compare
    with and is silent.
  - Actions suite: a knock at every **tick** of the actor's motion (:func:`action_events`), like a ratchet:
    frame ``t >= 1`` ticks when the actor's pose crosses a line of a fixed grid between frames ``t - 1`` and
    ``t``: the centre's x or y crosses a multiple of ``S / 16`` pixels (translations), the angle a multiple
    of 15 degrees (rotations), or the log-scale a multiple of ``log(2) / 8`` (zooms, an eighth of an
    octave). The frozen pose parameters never cross, so only the action's own motion ticks. With the suite's
    sweeps every clip ticks at least 3 times, and the ticks' spacing tells the speed.
* **Where: equal-power panning.** A source at horizontal position ``p`` in ``[0, 1]`` (0 = left edge,
  1 = right edge) plays ``cos(p pi / 2)`` in the left channel and ``sin(p pi / 2)`` in the right one, so its
  power ``L^2 + R^2`` does not depend on ``p``. ``p`` is frame ``t``'s value at the frame's first sample and
  moves linearly to frame ``t + 1``'s value over the frame. Moving MNIST: ``p = x / (canvas - 28)``, the
  digit's top-left x on the free canvas; actions suite: ``p = x_centre / S``.
* **Who sounds.** Every Moving MNIST digit sounds (each with its own voice and pan; levels divided by the
  number of digits). In the actions suite only the actor sounds: **distractors are silent**, and the actor's
  track does not depend on them (with one seed, clips with and without distractors sound the same).
* **Noise and gain.** White Gaussian background noise, independent per channel, with a per-clip standard
  deviation drawn uniformly from ``noise`` (default ``(0.003, 0.02)``), then a per-clip gain drawn uniformly
  in decibels from ``gain_db`` (default ``(-6, 0)``) scales everything. The mix is clipped to ``[-1, 1]``
  (before the gain its peak is at most 0.9 plus noise, so clipping is rare).

Everything is seeded (``seed``, like the frames; a different seed changes phases, knocks, noise and gain but
not the voices, onsets or panning) and vectorised with NumPy: a loop over chunks of clips and over the 4
harmonics, never over samples. Tracks are float32 ``(N, 2, T * samples_per_frame)`` in ``[-1, 1]``.

**Log-mel spectrograms** (:func:`log_mel`): 80 mel bins as in MMV, librosa's mel filter bank
(``librosa.filters.mel``, Slaney scale and norm) on a ``torch.stft`` power spectrogram. Defaults at 8 kHz:
``n_fft = 512``, a 400-sample (50 ms) Hann window, a 160-sample (20 ms) hop, ``log(mel + 1e-6)``. Frames are
centred: spectrogram frame ``j`` is centred on sample ``j * hop`` (zero padding at the ends), and a track of
``S`` samples gives exactly ``S / hop`` frames, so video frame ``t`` is spectrogram frames
``[t * r, (t + 1) * r)`` with ``r = samples_per_frame / hop = 5`` (:func:`mel_frames_per_video_frame`), and an
onset at video frame ``t`` sits at the centre of spectrogram frame ``t * r``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vidkit.data.actions import ActionClips
from vidkit.data.moving_mnist import MovingMNIST
from vidkit.utils.checks import check_int, check_real, check_seed, shape_text

__all__ = [
    "SAMPLE_RATE", "SAMPLES_PER_FRAME", "VOICE_F0", "HARMONICS", "CLICK_DECAY_S", "TICK_ANGLE_DEG",
    "TICK_LOG_SCALE", "TICK_TRANSLATION", "Soundtrack", "voice_frequency", "bounce_frames", "action_events",
    "synthesize", "moving_mnist_audio", "actions_audio", "clip_audio", "attach_audio", "check_audio", "log_mel",
    "mel_frequencies", "mel_frames_per_video_frame",
]

SAMPLE_RATE = 8000
"""Default sample rate in Hz."""
SAMPLES_PER_FRAME = 800
"""Default audio samples per video frame (0.1 s at 8 kHz: 10 video frames per second)."""
VOICE_F0: tuple[float, ...] = tuple(200.0 * 2.0 ** (d / 6.0) for d in range(10))
"""Fundamental frequency (Hz) of each digit's voice: whole tones from 200 Hz (digit 0) to 566 Hz (digit 9)."""
HARMONICS: tuple[float, ...] = (1.0, 1 / 2, 1 / 3, 1 / 4)
"""Relative amplitudes of the voice's partials 1..4 (normalised to sum 1 when mixed)."""
CLICK_DECAY_S = 0.006
"""Time constant (seconds) of an onset knock's exponential decay."""
CLICK_LENGTH_S = 0.04
TICK_TRANSLATION = 1 / 16
"""Actions suite: grid spacing of the actor's centre, as a fraction of the frame size ``S``."""
TICK_ANGLE_DEG = 15.0
"""Actions suite: grid spacing of the actor's angle, degrees."""
TICK_LOG_SCALE = math.log(2.0) / 8
"""Actions suite: grid spacing of the actor's log-scale (an eighth of an octave)."""

_LEVEL = 0.45  # peak of one digit's voice, and of its knock, before dividing by the number of sources
_FADE_S = 0.01
_MIN_RATE, _MAX_RATE = 6000, 96000  # the voices reach 2.3 kHz and onsets are read above 3 kHz
_CHUNK = 1 << 22  # samples per synthesis chunk (clips x sources x samples), bounds the working memory


@dataclass
class Soundtrack:
    """Sound tracks of ``N`` clips of ``T`` frames and what made them (NumPy arrays).

    Attributes:
        audio: ``(N, 2, T * samples_per_frame)`` float32 in [-1, 1], channels (left, right).
        sample_rate: samples per second.
        samples_per_frame: samples per video frame; frame ``t`` owns samples ``[t*spf, (t+1)*spf)``.
        sources: ``(N, K)`` int64 digit class of each sounding source (its voice).
        pan: ``(N, T, K)`` float64 pan position of each source per frame, 0 = left, 1 = right.
        onsets: ``(N, T, K)`` bool: a knock of that source starts at the first sample of that frame.
        gain_db: ``(N,)`` float64 gain of each clip in decibels.
        noise_std: ``(N,)`` float64 standard deviation of each clip's background noise (before the gain).
    """

    audio: np.ndarray
    sample_rate: int
    samples_per_frame: int
    sources: np.ndarray
    pan: np.ndarray
    onsets: np.ndarray
    gain_db: np.ndarray
    noise_std: np.ndarray

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.pan.shape[1])

    @property
    def fps(self) -> float:
        """Video frames per second implied by the timing: ``sample_rate / samples_per_frame``."""
        return self.sample_rate / self.samples_per_frame

    @property
    def onset_frames(self) -> np.ndarray:
        """``(N, T)`` bool: a knock of any source starts at this frame."""
        return self.onsets.any(-1)

    def tensors(self) -> torch.Tensor:
        """The tracks as a float32 torch tensor ``(N, 2, S)``."""
        return torch.from_numpy(self.audio)

    def subset(self, idx: Any) -> Soundtrack:
        """The tracks of clips ``idx`` (an int array, slice or boolean mask)."""
        ii = np.arange(len(self))[idx].reshape(-1)
        return Soundtrack(self.audio[ii], self.sample_rate, self.samples_per_frame, self.sources[ii],
                          self.pan[ii], self.onsets[ii], self.gain_db[ii], self.noise_std[ii])


# ----------------------------------------------------------------------------------------------- checks


def _check_range(name: str, value: Any, lo: float, hi: float, what: str) -> tuple[float, float]:
    """A pair ``(a, b)`` of finite numbers with ``lo <= a <= b <= hi``."""
    expected = f"a pair (lo, hi) of finite numbers with {lo:g} <= lo <= hi <= {hi:g}{what}"
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    a = check_real(f"{name}[0]", value[0], lo, hi, low_open=False)
    b = check_real(f"{name}[1]", value[1], lo, hi, low_open=False)
    if a > b:
        raise ValueError(f"{name} must be {expected}, got {value!r} (lo > hi)")
    return a, b


def _check_timing(sample_rate: Any, samples_per_frame: Any) -> tuple[int, int]:
    sr = check_int("sample_rate", sample_rate, _MIN_RATE, _MAX_RATE, what=" Hz (the voices reach 2.3 kHz)")
    spf = check_int("samples_per_frame", samples_per_frame, 16, what=" (samples of sound per video frame)")
    return sr, spf


def check_audio(audio: Any, *, num_frames: int | None = None, samples_per_frame: int = SAMPLES_PER_FRAME,
                channels: int | None = 2, name: str = "audio") -> np.ndarray:
    """Validate a batch of tracks and return it as a float32 NumPy array ``(N, C, S)``.

    ``audio`` is a NumPy array or torch tensor ``(N, C, S)`` of floats in ``[-1, 1]`` (finite). ``channels``
    (``None``: any) fixes ``C``; with ``num_frames`` the length must be ``S = num_frames * samples_per_frame``.
    Raises ``ValueError`` naming the expected shape, dtype or range and what was got.
    """
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    if not isinstance(audio, np.ndarray):
        raise ValueError(f"{name} must be a float array or tensor (N, C, S), got {type(audio).__name__}")
    want_c = "C" if channels is None else str(channels)
    if audio.ndim != 3:
        raise ValueError(f"{name} must have shape (N, {want_c}, S) (clips, channels, samples), got "
                         f"{shape_text(audio)}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{name} must be a float array with samples in [-1, 1], got dtype {audio.dtype}")
    if channels is not None and audio.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s) on axis 1, shape (N, {channels}, S), got "
                         f"{shape_text(audio)}")
    if num_frames is not None:
        t = check_int("num_frames", num_frames, 1)
        spf = check_int("samples_per_frame", samples_per_frame, 1)
        if audio.shape[2] != t * spf:
            raise ValueError(f"{name} must have num_frames * samples_per_frame = {t} * {spf} = {t * spf} "
                             f"samples on axis 2, got {shape_text(audio)}")
    if audio.size and (not np.isfinite(audio).all() or np.abs(audio).max() > 1.0):
        raise ValueError(f"{name} samples must be finite and in [-1, 1], got values in "
                         f"[{np.nanmin(audio):g}, {np.nanmax(audio):g}]")
    return audio.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------- events


def voice_frequency(digit: int) -> float:
    """Fundamental frequency in Hz of digit ``digit``'s voice (0..9): ``200 * 2 ** (digit / 6)``."""
    return VOICE_F0[check_int("digit", digit, 0, 9)]


def bounce_frames(velocities: Any) -> np.ndarray:
    """Bounce frames of Moving MNIST digits: ``(N, T, K, 2)`` velocities -> ``(N, T, K)`` bool.

    Frame ``t >= 1`` is a bounce of digit ``k`` when a component of its velocity changes sign between frames
    ``t - 1`` and ``t`` (velocities as stored by :func:`vidkit.data.generate_moving_mnist`: after the
    frame's reflection); frame 0 is never a bounce. Equals ``MovingMNIST.bounces[:, 1:].any(-1)``.
    """
    v = np.asarray(velocities)
    if v.ndim != 4 or v.shape[-1] != 2 or not np.issubdtype(v.dtype, np.number):
        raise ValueError(f"velocities must be a numeric array (N, T, K, 2), got {shape_text(v)}")
    out = np.zeros(v.shape[:3], bool)
    out[:, 1:] = (np.sign(v[:, 1:]) != np.sign(v[:, :-1])).any(-1)
    return out


def action_events(clips: ActionClips) -> np.ndarray:
    """Tick frames of the actions suite's actors: ``(N, T)`` bool (see the module docstring).

    Frame ``t >= 1`` ticks when, between frames ``t - 1`` and ``t``, the actor's centre x or y crosses a
    multiple of ``TICK_TRANSLATION * S`` pixels, its angle a multiple of ``TICK_ANGLE_DEG`` degrees, or its
    log-scale a multiple of ``TICK_LOG_SCALE``; computed from ``clips.centers``, ``angles`` and ``scales``.
    """
    if not isinstance(clips, ActionClips):
        raise TypeError(f"clips must be an ActionClips (from generate_actions), got {type(clips).__name__}")
    c = clips.centers[:, :, 0].astype(np.float64)  # (N, T, 2), actor = layer 0
    cells = np.concatenate([
        np.floor(c / (TICK_TRANSLATION * clips.size)),
        np.floor(np.rad2deg(clips.angles[:, :, 0].astype(np.float64)) / TICK_ANGLE_DEG)[..., None],
        np.floor(np.log(clips.scales[:, :, 0].astype(np.float64)) / TICK_LOG_SCALE)[..., None],
    ], -1)  # (N, T, 4) grid cell of each pose parameter
    out = np.zeros(cells.shape[:2], bool)
    out[:, 1:] = (cells[:, 1:] != cells[:, :-1]).any(-1)
    return out


# ----------------------------------------------------------------------------------------------- synthesis


def synthesize(sources: Any, pan: Any, onsets: Any, seed: int = 0, *, sample_rate: int = SAMPLE_RATE,
               samples_per_frame: int = SAMPLES_PER_FRAME, noise: tuple[float, float] = (0.003, 0.02),
               gain_db: tuple[float, float] = (-6.0, 0.0)) -> Soundtrack:
    """Synthesise stereo tracks from per-frame source metadata (the engine behind :func:`clip_audio`).

    Args:
        sources: ``(N, K)`` ints in 0..9, the digit (voice) of each of the ``K >= 1`` sounding sources.
        pan: ``(N, T, K)`` finite floats in [0, 1], each source's horizontal position per frame (0 = left).
        onsets: ``(N, T, K)`` bool, a knock of that source at the first sample of that frame.
        seed: a non-negative int: phases, knocks, noise and gain.
        sample_rate: Hz, an int in 6000..96000.
        samples_per_frame: samples per video frame, an int >= 16.
        noise: ``(lo, hi)`` range of the per-clip noise standard deviation, within [0, 0.2].
        gain_db: ``(lo, hi)`` range of the per-clip gain in dB, within [-60, 0].

    Returns:
        :class:`Soundtrack` with ``audio`` float32 ``(N, 2, T * samples_per_frame)`` in [-1, 1].
    """
    seed = check_seed("seed", seed)
    sr, spf = _check_timing(sample_rate, samples_per_frame)
    noise = _check_range("noise", noise, 0.0, 0.2, " (noise standard deviation)")
    gain_db = _check_range("gain_db", gain_db, -60.0, 0.0, " (decibels)")
    src = np.asarray(sources)
    if src.ndim != 2 or src.shape[1] < 1 or not np.issubdtype(src.dtype, np.integer) or src.size == 0:
        raise ValueError(f"sources must be an int array (N, K) with N, K >= 1 (digit of each sounding source), "
                         f"got {shape_text(src)} {src.dtype}")
    if src.min() < 0 or src.max() > 9:
        raise ValueError(f"sources must be digit classes in 0..9, got values in [{src.min()}, {src.max()}]")
    n, k = src.shape
    p = np.asarray(pan)
    if p.ndim != 3 or p.shape[0] != n or p.shape[2] != k or p.shape[1] < 1 or not np.issubdtype(p.dtype, np.number):
        raise ValueError(f"pan must be a float array (N, T, K) = ({n}, T, {k}) with T >= 1, got {shape_text(p)}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all() or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(f"pan must hold finite positions in [0, 1] (0 = left, 1 = right), got values in "
                         f"[{np.nanmin(p):g}, {np.nanmax(p):g}]")
    t = p.shape[1]
    on = np.asarray(onsets)
    if on.shape != p.shape or on.dtype != bool:
        raise ValueError(f"onsets must be a bool array (N, T, K) = {p.shape} like pan, got {shape_text(on)} "
                         f"{getattr(on, 'dtype', '')}")

    s = t * spf
    ss = np.random.SeedSequence([seed, 17])
    rng_phase, rng_click, rng_noise, rng_level = (np.random.default_rng(c) for c in ss.spawn(4))
    phases = rng_phase.random((n, k, len(HARMONICS)))
    noise_std = rng_level.uniform(*noise, size=n)
    gains = rng_level.uniform(*gain_db, size=n)
    click_len = min(spf, max(1, round(CLICK_LENGTH_S * sr)))

    harm = np.asarray(HARMONICS) / sum(HARMONICS)
    f0 = np.asarray(VOICE_F0)[src]  # (N, K)
    time = np.arange(s, dtype=np.float64) / sr
    fade = np.minimum(1.0, np.minimum(np.arange(s) + 1, s - np.arange(s)) / max(1.0, _FADE_S * sr))
    decay = np.exp(-np.arange(click_len) / (CLICK_DECAY_S * sr)).astype(np.float32)
    # per-sample pan: frame t's value at its first sample, moving linearly to frame t+1's value
    frame = np.arange(s) // spf
    frac = (np.arange(s) % spf) / spf
    nxt = np.minimum(frame + 1, t - 1)
    level = _LEVEL / k

    audio = np.empty((n, 2, s), np.float32)
    step = max(1, _CHUNK // (k * s))
    for lo in range(0, n, step):  # chunks of clips bound the memory; the result does not depend on them
        sl = slice(lo, min(n, lo + step))
        m = sl.stop - sl.start
        voice = np.zeros((m, k, s), np.float32)
        for h, a in enumerate(harm):  # 4 partials
            cyc = (h + 1) * f0[sl, :, None] * time + phases[sl, :, h, None]
            voice += np.float32(a) * np.sin((2 * np.pi * (cyc % 1.0)).astype(np.float32))
        voice *= fade.astype(np.float32)
        clicks = np.zeros((m, k, t, spf), np.float32)
        burst = np.where(rng_click.random((m, k, t, click_len)) < 0.5, -1.0, 1.0).astype(np.float32)
        clicks[..., :click_len] = on[sl].transpose(0, 2, 1)[..., None] * burst * decay
        mono = level * (voice + clicks.reshape(m, k, s))  # (m, K, S)
        ps = p[sl][:, frame] + (p[sl][:, nxt] - p[sl][:, frame]) * frac[:, None]  # (m, S, K)
        ang = (0.5 * np.pi * ps).transpose(0, 2, 1)
        left = (mono * np.cos(ang)).sum(1)
        right = (mono * np.sin(ang)).sum(1)
        mix = np.stack([left, right], 1)
        mix += (noise_std[sl, None, None] * rng_noise.standard_normal((m, 2, s))).astype(np.float32)
        mix *= (10.0 ** (gains[sl] / 20.0)).astype(np.float32)[:, None, None]
        audio[sl] = np.clip(mix, -1.0, 1.0)
    return Soundtrack(audio=audio, sample_rate=sr, samples_per_frame=spf, sources=src.astype(np.int64),
                      pan=p, onsets=on.copy(), gain_db=gains, noise_std=noise_std)


def moving_mnist_audio(data: MovingMNIST, seed: int = 0, **kwargs: Any) -> Soundtrack:
    """Sound tracks of a Moving MNIST batch: every digit sounds, with a knock at each bounce.

    Voices ``data.labels`` ``(N, K)``; pan ``positions[..., 0] / (canvas - 28)`` (the digit's top-left x on
    the free canvas); onsets :func:`bounce_frames` of ``data.velocities``. ``kwargs`` as :func:`synthesize`.
    Returns a :class:`Soundtrack` with audio ``(N, 2, T * samples_per_frame)``.
    """
    if not isinstance(data, MovingMNIST):
        raise TypeError(f"data must be a MovingMNIST (from generate_moving_mnist), got {type(data).__name__}")
    free = data.frames.shape[-1] - 28
    pan = np.clip(data.positions[..., 0] / max(free, 1), 0.0, 1.0)
    return synthesize(data.labels, pan, bounce_frames(data.velocities), seed, **kwargs)


def actions_audio(clips: ActionClips, seed: int = 0, **kwargs: Any) -> Soundtrack:
    """Sound tracks of action clips: only the actor sounds (distractors are silent), knocking at each tick.

    Voice ``clips.digit``; pan ``centers[:, :, 0, 0] / S`` (the actor's centre x); onsets
    :func:`action_events`. ``kwargs`` as :func:`synthesize`. Returns a :class:`Soundtrack` with one source.
    """
    if not isinstance(clips, ActionClips):
        raise TypeError(f"clips must be an ActionClips (from generate_actions), got {type(clips).__name__}")
    pan = np.clip(clips.centers[:, :, :1, 0].astype(np.float64) / clips.size, 0.0, 1.0)  # (N, T, 1)
    return synthesize(clips.digit[:, None], pan, action_events(clips)[..., None], seed, **kwargs)


def attach_audio(clips: MovingMNIST | ActionClips, seed: int | np.random.SeedSequence = 0) -> MovingMNIST | ActionClips:
    """Put each clip's sound track into the batch's metadata: ``clips.audio = clip_audio(clips, seed).audio``
    (``(N, 2, T * 800)`` float32), in place; returns ``clips``. Give the ``seed`` the frames were generated with,
    so the sound is seeded like the frames (a ``SeedSequence`` stands for its first generated word). Subsets,
    items and concatenated batches carry the tracks along."""
    if isinstance(seed, np.random.SeedSequence):
        seed = int(seed.generate_state(1)[0])
    clips.audio = clip_audio(clips, seed).audio
    return clips


def clip_audio(clips: MovingMNIST | ActionClips, seed: int = 0, **kwargs: Any) -> Soundtrack:
    """:func:`moving_mnist_audio` or :func:`actions_audio`, whichever fits ``clips``."""
    if isinstance(clips, MovingMNIST):
        return moving_mnist_audio(clips, seed, **kwargs)
    if isinstance(clips, ActionClips):
        return actions_audio(clips, seed, **kwargs)
    raise TypeError(f"clips must be a MovingMNIST or an ActionClips, got {type(clips).__name__}")


# ----------------------------------------------------------------------------------------------- log-mel


def mel_frames_per_video_frame(samples_per_frame: int = SAMPLES_PER_FRAME, hop_length: int = 160) -> int:
    """Spectrogram frames per video frame, ``samples_per_frame / hop_length`` (must divide exactly).

    Video frame ``t`` is spectrogram frames ``[t * r, (t + 1) * r)`` of :func:`log_mel`.
    """
    spf = check_int("samples_per_frame", samples_per_frame, 1)
    hop = check_int("hop_length", hop_length, 1)
    if spf % hop:
        raise ValueError(f"samples_per_frame ({spf}) must be a multiple of hop_length ({hop}) so that every "
                         f"video frame spans a whole number of spectrogram frames")
    return spf // hop


def mel_frequencies(n_mels: int = 80, sample_rate: int = SAMPLE_RATE, fmin: float = 0.0,
                    fmax: float | None = None) -> np.ndarray:
    """Centre frequencies in Hz ``(n_mels,)`` of :func:`log_mel`'s bins (librosa's Slaney mel scale)."""
    import librosa

    n_mels = check_int("n_mels", n_mels, 1)
    sr = check_int("sample_rate", sample_rate, 1000, 192000, what=" Hz")
    fmax = sr / 2 if fmax is None else fmax
    return librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]


def log_mel(audio: Any, sample_rate: int = SAMPLE_RATE, n_mels: int = 80, *, n_fft: int = 512,
            win_length: int = 400, hop_length: int = 160, fmin: float = 0.0, fmax: float | None = None,
            log_offset: float = 1e-6) -> torch.Tensor:
    """Log-mel spectrogram: ``(N, C, S)`` or ``(C, S)`` float audio -> float32 ``(N, C, n_mels, S / hop)``.

    ``log(mel_power + log_offset)`` (natural log): the power ``|STFT|^2`` of a Hann window of ``win_length``
    samples zero-padded to ``n_fft``, every ``hop_length`` samples, frames centred (frame ``j`` on sample
    ``j * hop_length``, zero padding at the ends, the frame past the last hop dropped), mapped by
    ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)`` (Slaney scale and
    norm; ``fmax`` defaults to ``sample_rate / 2``). ``S`` must be a multiple of ``hop_length``; see
    :func:`mel_frames_per_video_frame` for the frame mapping and :func:`mel_frequencies` for the bins. A
    ``(C, S)`` input gives ``(1, C, n_mels, S / hop)``. Runs on the input's device (a tensor) or the CPU.
    """
    import librosa

    sr = check_int("sample_rate", sample_rate, 1000, 192000, what=" Hz")
    n_fft = check_int("n_fft", n_fft, 16)
    win = check_int("win_length", win_length, 1, n_fft, what=" (at most n_fft)")
    hop = check_int("hop_length", hop_length, 1)
    n_mels = check_int("n_mels", n_mels, 1, n_fft // 2 + 1, what=" (at most n_fft // 2 + 1)")
    fmin = check_real("fmin", fmin, 0.0, sr / 2, low_open=False, high_open=True, what=" Hz")
    fmax = sr / 2 if fmax is None else check_real("fmax", fmax, fmin, sr / 2, what=" Hz (above fmin)")
    offset = check_real("log_offset", log_offset, 0.0)
    x = audio if isinstance(audio, torch.Tensor) else None
    if x is None:
        if not isinstance(audio, np.ndarray):
            raise ValueError(f"audio must be a float array or tensor (N, C, S) or (C, S), got {type(audio).__name__}")
        x = torch.from_numpy(np.ascontiguousarray(audio))
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 1 or not x.dtype.is_floating_point:
        raise ValueError(f"audio must be a float array (N, C, S) or (C, S) (clips, channels, samples), got "
                         f"{shape_text(x)} {x.dtype}")
    n, c, s = x.shape
    if s == 0 or s % hop:
        raise ValueError(f"audio length must be a positive multiple of hop_length={hop} samples (so that the "
                         f"spectrogram has S / hop frames), got {s} samples, shape {shape_text(audio)}")
    fb = torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))
    spec = torch.stft(x.reshape(n * c, s).float(), n_fft=n_fft, hop_length=hop, win_length=win,
                      window=torch.hann_window(win, device=x.device), center=True, pad_mode="constant",
                      return_complex=True)[..., : s // hop]
    power = spec.real.square() + spec.imag.square()  # (N*C, n_fft // 2 + 1, frames)
    mel = torch.matmul(fb.to(device=power.device, dtype=power.dtype), power)
    return torch.log(mel + offset).reshape(n, c, n_mels, s // hop)
