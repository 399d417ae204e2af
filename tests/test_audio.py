"""Sound tracks, log-mel spectrograms, noisy narration and MP4 export with sound (issue 17's data layer)."""

import os

import numpy as np
import pytest
import torch

from vidkit.data import all_captions, generate_actions, generate_moving_mnist
from vidkit.data.audio import (
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    VOICE_F0,
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
from vidkit.data.narration import ALIGNED, FILLER, FILLERS, HESITATIONS, NEIGHBOUR, narrate, narrate_pools

SPF = SAMPLES_PER_FRAME


@pytest.fixture(scope="module")
def mnist1():
    return generate_moving_mnist(24, seed=3, num_digits=1, seq_len=20)


@pytest.fixture(scope="module")
def actions():
    return generate_actions(24, seed=5, num_frames=12, size=32, num_distractors=2, distractor_motion="moving")


def _digit_from_spectrum(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``(N, 2, S)`` -> ``(N,)`` the digit whose voice's fundamental is nearest the strongest spectral peak."""
    mag = np.abs(np.fft.rfft(audio.sum(1), axis=-1))
    freq = np.fft.rfftfreq(audio.shape[-1], 1 / sample_rate)
    peak = freq[mag.argmax(-1)]
    return np.abs(peak[:, None] - np.asarray(VOICE_F0)[None]).argmin(1)


def _high_pass(audio: np.ndarray) -> np.ndarray:
    """A causal high-pass (second difference, ``x[n] - 2 x[n-1] + x[n-2]``) of the channels' sum: it damps the
    voices (below 2.3 kHz) and passes the knocks' white noise, and nothing before an onset reacts to it."""
    x = audio.astype(np.float64).sum(1)
    out = np.zeros_like(x)
    out[:, 2:] = x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]
    return out


def _detected_onsets(audio: np.ndarray, num_frames: int, shift: int = 0, width: int = 80) -> np.ndarray:
    """``(N, T)`` bool: the high-passed track's energy in the ``width`` samples from ``t * SPF + shift`` is more than 4x
    that of the ``width`` samples before and 4x the clip's median over such windows (frame 0 never)."""
    hp = _high_pass(audio) ** 2
    windows = hp[:, : len(hp[0]) // width * width].reshape(len(hp), -1, width).sum(-1)
    floor = np.median(windows, axis=1)
    out = np.zeros((len(audio), num_frames), bool)
    for t in range(1, num_frames):
        start = t * SPF + shift
        after = hp[:, start:start + width].sum(-1)
        before = hp[:, start - width:start].sum(-1)
        out[:, t] = (after > 4 * before) & (after > 4 * floor)
    return out


# ----------------------------------------------------------------------------------------------- shapes, seeding


def test_shapes_dtype_range_and_timing(mnist1, actions):
    st = moving_mnist_audio(mnist1, seed=0)
    assert st.audio.shape == (24, 2, 20 * SPF) and st.audio.dtype == np.float32
    assert np.abs(st.audio).max() <= 1.0 and np.abs(st.audio).max() > 0.05
    assert st.fps == 10 and st.num_frames == 20 and st.onsets.shape == (24, 20, 1)
    sa = actions_audio(actions, seed=0)
    assert sa.audio.shape == (24, 2, 12 * SPF) and sa.sources.shape == (24, 1)
    custom = clip_audio(actions, seed=0, sample_rate=16000, samples_per_frame=1600)
    assert custom.audio.shape == (24, 2, 12 * 1600) and custom.sample_rate == 16000
    two = moving_mnist_audio(generate_moving_mnist(4, seed=0, seq_len=6), seed=0)
    assert two.audio.shape == (4, 2, 6 * SPF) and two.sources.shape == (4, 2)
    assert isinstance(st.tensors(), torch.Tensor) and st.subset([0, 2]).audio.shape == (2, 2, 20 * SPF)


def test_seeding(actions):
    a, b, c = actions_audio(actions, seed=1), actions_audio(actions, seed=1), actions_audio(actions, seed=2)
    assert np.array_equal(a.audio, b.audio)
    assert not np.allclose(a.audio, c.audio)
    assert not np.allclose(a.gain_db, c.gain_db) and not np.allclose(a.noise_std, c.noise_std)
    # the seed changes noise and gain, never what the scene says: voices, onsets and panning
    assert np.array_equal(a.onsets, c.onsets) and np.array_equal(a.pan, c.pan)
    assert np.array_equal(a.sources, c.sources)
    assert np.array_equal(_digit_from_spectrum(a.audio), _digit_from_spectrum(c.audio))


# ----------------------------------------------------------------------------------------------- what


def test_every_digit_has_its_own_voice():
    t = 10
    digits = np.arange(10)[:, None]
    st = synthesize(digits, np.full((10, t, 1), 0.5), np.zeros((10, t, 1), bool), seed=0)
    assert np.array_equal(_digit_from_spectrum(st.audio), np.arange(10))
    assert voice_frequency(0) == 200.0 and len(set(np.round(VOICE_F0))) == 10


def test_audio_alone_tells_the_digit(mnist1, actions):
    st = moving_mnist_audio(mnist1, seed=0)
    assert np.array_equal(_digit_from_spectrum(st.audio), mnist1.labels[:, 0])
    sa = actions_audio(actions, seed=0)  # with two moving distractors in every clip: only the actor sounds
    assert np.array_equal(_digit_from_spectrum(sa.audio), actions.digit)


def test_two_digits_two_voices():
    data = generate_moving_mnist(12, seed=1, num_digits=2, seq_len=10)
    st = moving_mnist_audio(data, seed=0)
    mag = np.abs(np.fft.rfft(st.audio.sum(1), axis=-1))
    bins = np.round(np.asarray(VOICE_F0) * st.audio.shape[-1] / SAMPLE_RATE).astype(int)
    strength = mag[:, bins]  # (N, 10) energy at each voice's fundamental
    for i in range(len(data)):
        labels = set(data.labels[i].tolist())
        assert set(np.argsort(strength[i])[-len(labels):].tolist()) == labels


# ----------------------------------------------------------------------------------------------- when


def test_bounce_frames_are_the_velocity_sign_flips(mnist1):
    b = bounce_frames(mnist1.velocities)
    assert not b[:, 0].any()
    assert np.array_equal(b[:, 1:], mnist1.bounces[:, 1:].any(-1))
    assert b.any(), "some clips must bounce for the onset test to mean anything"


def test_onsets_land_on_the_exact_bounce_frames(mnist1):
    st = moving_mnist_audio(mnist1, seed=0)
    truth = bounce_frames(mnist1.velocities)[..., 0]
    assert np.array_equal(st.onset_frames, truth)
    assert np.array_equal(_detected_onsets(st.audio, 20), truth)
    # exact: the knock starts on the frame's first sample, not 10 ms later or earlier
    assert not _detected_onsets(st.audio, 20, shift=80)[truth].any()
    assert not _detected_onsets(st.audio, 20, shift=-80)[truth].any()


def test_a_knock_starts_on_its_frames_first_sample(mnist1):
    """Same seed with and without the onsets: the difference is the knocks alone, to the sample."""
    pan = np.clip(mnist1.positions[..., 0] / 36, 0, 1)
    onsets = bounce_frames(mnist1.velocities)
    with_knocks = synthesize(mnist1.labels, pan, onsets, seed=2).audio
    without = synthesize(mnist1.labels, pan, np.zeros_like(onsets), seed=2).audio
    knock = np.abs(with_knocks - without).max(1).reshape(24, 20, SPF) > 0  # (N, T, samples of the frame)
    assert np.array_equal(knock.any(-1), onsets[..., 0])
    assert knock[onsets[..., 0]][:, 0].all(), "a knock sounds on the first sample of its frame"
    assert np.array_equal(knock.argmax(-1)[onsets[..., 0]], np.zeros(onsets.sum(), int))


def test_action_ticks_are_grid_crossings_and_sound_on_their_frames(actions):
    ev = action_events(actions)
    assert ev.sum(1).min() >= 3 and not ev[:, 0].any()
    # recompute for the moving translations: centre x crossing multiples of S / 16
    x = actions.centers[:, :, 0, 0].astype(np.float64)
    cell = np.floor(x / (actions.size / 16))
    moving_x = np.isin(np.asarray(actions.action_names)[actions.action], ["move_left", "move_right"])
    assert moving_x.any()
    assert np.array_equal(ev[moving_x, 1:], (cell[moving_x, 1:] != cell[moving_x, :-1]))
    sa = actions_audio(actions, seed=0)
    assert np.array_equal(_detected_onsets(sa.audio, actions.num_frames), ev)


# ----------------------------------------------------------------------------------------------- where


def test_panning_follows_x(mnist1):
    st = moving_mnist_audio(mnist1, seed=0, noise=(0.0, 0.0))
    frames = st.audio.astype(np.float64).reshape(24, 2, 20, SPF)
    e = (frames ** 2).sum(-1)  # (N, 2, T)
    est = np.arctan(np.sqrt(e[:, 1] / e[:, 0])) * 2 / np.pi  # equal-power law inverted
    p = st.pan[..., 0]
    mid = (p + np.concatenate([p[:, 1:], p[:, -1:]], 1)) / 2  # the pan moves linearly over the frame
    assert np.corrcoef(est.ravel(), mid.ravel())[0, 1] > 0.99
    assert np.abs(est - mid).mean() < 0.03
    # equal power: the total doesn't depend on the position (frames without a knock or a fade)
    quiet = ~st.onset_frames
    quiet[:, [0, -1]] = False
    total = e.sum(1)[quiet].reshape(-1)
    per_clip = (e.sum(1) * quiet).sum(1) / quiet.sum(1)
    ratio = total / np.repeat(per_clip, quiet.sum(1))
    assert np.abs(ratio - 1).max() < 0.05
    x = mnist1.positions[..., 0, 0]
    assert np.corrcoef(est.ravel(), x.ravel())[0, 1] > 0.95


def test_panning_follows_the_actor_not_the_distractors(actions):
    sa = actions_audio(actions, seed=0)
    e = (sa.audio.astype(np.float64).reshape(24, 2, actions.num_frames, SPF) ** 2).sum(-1)
    balance = np.log(e[:, 1] / e[:, 0])
    assert np.corrcoef(balance.ravel(), actions.centers[:, :, 0, 0].ravel())[0, 1] > 0.9
    moving = actions.centers[:, :, 1, 0]  # a moving distractor's x says nothing
    assert abs(np.corrcoef(np.diff(balance, axis=1).ravel(), np.diff(moving, axis=1).ravel())[0, 1]) < 0.3


def test_distractors_are_silent():
    kw = dict(seed=11, num_frames=10, size=32)
    alone = generate_actions(8, num_distractors=0, **kw)
    crowd = generate_actions(8, num_distractors=3, distractor_motion="moving", **kw)
    assert np.array_equal(alone.centers[:, :, 0], crowd.centers[:, :, 0])
    assert not np.array_equal(alone.frames, crowd.frames)
    assert np.array_equal(actions_audio(alone, seed=4).audio, actions_audio(crowd, seed=4).audio)


# ----------------------------------------------------------------------------------------------- log-mel


def test_log_mel_shapes_and_alignment(mnist1):
    st = moving_mnist_audio(mnist1.subset(slice(0, 4)), seed=0)
    m = log_mel(st.audio)
    assert m.shape == (4, 2, 80, 20 * SPF // 160) and m.dtype == torch.float32 and torch.isfinite(m).all()
    assert mel_frames_per_video_frame(SPF, 160) == 5 and m.shape[-1] == 20 * 5
    assert log_mel(st.audio[0]).shape == (1, 2, 80, 100)
    assert torch.allclose(log_mel(torch.from_numpy(st.audio)), m)
    # a knock at video frame t: the high mel bins jump at spectrogram frame 5 t, not before
    hi = m[:, :, 70:].exp().sum((1, 2)).numpy()  # (4, frames)
    truth = bounce_frames(mnist1.velocities[:4])[..., 0]
    for i, t in zip(*np.nonzero(truth)):
        assert hi[i, 5 * t] > 5 * hi[i, 5 * t - 2]


def test_a_tone_lands_in_its_mel_bin():
    centres = mel_frequencies(80, SAMPLE_RATE)
    assert centres.shape == (80,) and np.all(np.diff(centres) > 0) and centres[-1] < SAMPLE_RATE / 2
    time = np.arange(8000) / SAMPLE_RATE
    for k in (5, 20, 40, 60, 75):
        tone = (0.5 * np.sin(2 * np.pi * centres[k] * time)).astype(np.float32)[None]  # (1, S)
        m = log_mel(tone)[0, 0]  # (80, frames)
        assert int(m[:, 10:-10].mean(-1).argmax()) == k


# ----------------------------------------------------------------------------------------------- narration


def test_narration_kinds(actions):
    nar = narrate(actions, seed=0, n_aligned=2, n_neighbour=2, n_filler=3)
    assert len(nar) == 24 and nar.kinds.shape == (24, 7)
    assert (nar.kinds == ALIGNED).sum(1).tolist() == [2] * 24
    assert (nar.kinds == NEIGHBOUR).sum(1).tolist() == [2] * 24
    assert (nar.kinds == FILLER).sum(1).tolist() == [3] * 24
    assert len({tuple(r) for r in nar.kinds}) > 1, "kinds are shuffled within each bag"
    def bare(s: str) -> list[str]:  # the sentence, and the sentence without each hesitation it may start with
        return [s] + [s[len(h) + 1:] for h in HESITATIONS if s.startswith(h + " ")]

    names = actions.action_names
    for i, (bag, kinds, src) in enumerate(zip(nar.sentences, nar.kinds, nar.source)):
        for s, k, j in zip(bag, kinds, src):
            if k == FILLER:
                assert s in FILLERS and j == -1
                continue
            own = all_captions(int(actions.digit[j]), names[int(actions.action[j])])
            assert any(b in own for b in bare(s))
            assert (j == i) == (k == ALIGNED) and abs(j - i) <= 1
    same = (actions.digit[nar.source.clip(0)] == actions.digit[:, None]) & (
        actions.action[nar.source.clip(0)] == actions.action[:, None]) & (nar.source >= 0)
    assert np.array_equal(nar.describes, same) and nar.describes[nar.aligned].all()
    assert any(s.split()[0] in HESITATIONS for s in nar.texts()), "some describing sentences hesitate"
    assert len(nar.texts()) == 24 * 7 and nar.kind_names()[0][0] in ("aligned", "neighbour", "filler")


def test_narration_seeding_and_moving_mnist(actions, mnist1):
    a, b, c = narrate(actions, seed=3), narrate(actions, seed=3), narrate(actions, seed=4)
    assert a.sentences == b.sentences and np.array_equal(a.kinds, b.kinds)
    assert a.sentences != c.sentences
    nm = narrate(mnist1, seed=0, n_aligned=1, n_neighbour=1, n_filler=1, hesitation=0.0)
    for i, (bag, kinds) in enumerate(zip(nm.sentences, nm.kinds)):
        assert bag[list(kinds).index(ALIGNED)] == mnist1.captions[i]


def test_narration_words_and_the_vocabulary(actions):
    from vidkit.models.text import UNK, Vocabulary

    nar = narrate(actions, seed=0)
    captions_only = Vocabulary.build(actions.captions)
    tokens, lengths = captions_only.encode(list(FILLERS))
    assert (lengths > 0).all() and (tokens == captions_only.stoi[UNK]).any()  # documented: fillers -> <unk>
    full = Vocabulary.build(nar.texts() + list(FILLERS + HESITATIONS))
    assert not any(full.unknown_words(s) for s in nar.texts())


def test_narration_bad_input(actions):
    with pytest.raises(ValueError, match="n_aligned must be a positive int"):
        narrate(actions, n_aligned=0)
    with pytest.raises(ValueError, match="needs at least 2 clips"):
        narrate(actions.subset([0]))
    assert len(narrate(actions.subset([0]), n_neighbour=0)) == 1
    with pytest.raises(ValueError, match=r"pools\[1\] holds an empty"):
        narrate_pools([["a 7 moves left"], ["  "]])
    with pytest.raises(ValueError, match="non-empty sequence"):
        narrate_pools([])
    with pytest.raises(ValueError, match="hesitation must be a finite number in"):
        narrate(actions, hesitation=1.5)
    with pytest.raises(TypeError, match="ActionClips or a MovingMNIST"):
        narrate(["a 7"])


# ----------------------------------------------------------------------------------------------- export


def test_mp4_has_an_audio_stream(tmp_path, actions):
    from moviepy import AudioFileClip, VideoFileClip

    from vidkit.viz.av import save_av_mp4

    sa = actions_audio(actions.subset([0]), seed=0)
    path = save_av_mp4(actions.frames[0], sa.audio[0], tmp_path / "clip.mp4", fps=sa.fps,
                       sample_rate=sa.sample_rate, scale=2)
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]  # the temp file was renamed
    with VideoFileClip(str(path)) as video:
        assert video.audio is not None
        assert abs(video.duration - actions.num_frames / 10) < 0.1
    with AudioFileClip(str(path)) as sound:  # moviepy reads it back at 44.1 kHz (its fps=8000 path is broken)
        arr = sound.to_soundarray()  # (samples, channels)
    assert arr.shape[1] == 2 and abs(len(arr) / 44100 - 1.2) < 0.1
    e = (arr ** 2).sum(0)  # still stereo, louder on the actor's side
    assert np.abs(arr).max() > 0.05 and np.sign(np.log(e[1] / e[0])) == np.sign(sa.pan[0, :, 0].mean() - 0.5)
    # decoded at its own rate, the AAC track matches the original sample for sample (no offset)
    import subprocess

    import imageio_ffmpeg

    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2",
                          "-ar", str(SAMPLE_RATE), "-"], capture_output=True, check=True).stdout
    back = np.frombuffer(raw, np.float32).reshape(-1, 2)[: 12 * SPF].T
    orig = sa.audio[0, :, : back.shape[1]]
    assert back.shape[1] >= 12 * SPF - 100
    assert np.corrcoef(back.ravel(), orig.ravel())[0, 1] > 0.95
    with pytest.raises(ValueError, match="audio must last as long as the frames"):
        save_av_mp4(actions.frames[0], sa.audio[0, :, :-1], tmp_path / "bad.mp4")
    with pytest.raises(ValueError, match=r"\(S,\), \(1, S\) or \(2, S\)"):
        save_av_mp4(actions.frames[0], np.zeros((3, 12 * SPF), np.float32), tmp_path / "bad.mp4")
    with pytest.raises(ValueError, match="sample_rate must be an int in 4000..96000"):
        save_av_mp4(actions.frames[0], sa.audio[0], tmp_path / "bad.mp4", sample_rate=100)
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


# ----------------------------------------------------------------------------------------------- bad input


def test_bad_audio_inputs_raise_clearly(mnist1):
    good = np.zeros((2, 2, 10 * SPF), np.float32)
    assert check_audio(good, num_frames=10).shape == (2, 2, 8000)
    with pytest.raises(ValueError, match=r"10 \* 800 = 8000 samples on axis 2, got \(2, 2, 7999\)"):
        check_audio(good[..., :-1], num_frames=10)
    with pytest.raises(ValueError, match=r"2 channel\(s\) on axis 1, shape \(N, 2, S\), got \(2, 1, 8000\)"):
        check_audio(good[:, :1], num_frames=10)
    with pytest.raises(ValueError, match=r"shape \(N, 2, S\) \(clips, channels, samples\), got \(2, 8000\)"):
        check_audio(good[0])
    with pytest.raises(ValueError, match="float array with samples in"):
        check_audio(good.astype(np.int16))
    with pytest.raises(ValueError, match=r"finite and in \[-1, 1\]"):
        check_audio(good + 2)
    with pytest.raises(ValueError, match="sample_rate must be an int in 6000..96000 Hz"):
        moving_mnist_audio(mnist1, sample_rate=4000)
    with pytest.raises(ValueError, match="sample_rate must be an int in 6000..96000"):
        moving_mnist_audio(mnist1, sample_rate=8000.0)
    with pytest.raises(ValueError, match="samples_per_frame must be an int >= 16"):
        moving_mnist_audio(mnist1, samples_per_frame=8)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        moving_mnist_audio(mnist1, seed=-1)
    with pytest.raises(ValueError, match="noise must be a pair"):
        moving_mnist_audio(mnist1, noise=0.1)
    with pytest.raises(ValueError, match=r"gain_db\[1\] must be a finite number in \[-60, 0\]"):
        moving_mnist_audio(mnist1, gain_db=(-6, 3))
    with pytest.raises(TypeError, match="MovingMNIST"):
        moving_mnist_audio(generate_actions(2, num_frames=4, size=16))
    with pytest.raises(ValueError, match=r"pan must be a float array \(N, T, K\) = \(2, T, 1\)"):
        synthesize(np.zeros((2, 1), int), np.zeros((2, 5)), np.zeros((2, 5), bool))
    with pytest.raises(ValueError, match=r"pan must hold finite positions in \[0, 1\]"):
        synthesize(np.zeros((2, 1), int), np.full((2, 5, 1), 1.5), np.zeros((2, 5, 1), bool))
    with pytest.raises(ValueError, match=r"sources must be digit classes in 0..9"):
        synthesize(np.full((2, 1), 10), np.zeros((2, 5, 1)), np.zeros((2, 5, 1), bool))
    with pytest.raises(ValueError, match=r"onsets must be a bool array \(N, T, K\)"):
        synthesize(np.zeros((2, 1), int), np.zeros((2, 5, 1)), np.zeros((2, 4, 1), bool))
    with pytest.raises(ValueError, match=r"velocities must be a numeric array \(N, T, K, 2\)"):
        bounce_frames(np.zeros((2, 5, 2)))


def test_bad_log_mel_inputs_raise_clearly():
    x = np.zeros((1, 2, 1600), np.float32)
    with pytest.raises(ValueError, match="positive multiple of hop_length=160 samples"):
        log_mel(x[..., :-1])
    with pytest.raises(ValueError, match=r"\(N, C, S\) or \(C, S\).*got \(1600,\)"):
        log_mel(x[0, 0])
    with pytest.raises(ValueError, match="float array"):
        log_mel(x.astype(np.int32))
    with pytest.raises(ValueError, match="sample_rate must be an int in 1000..192000 Hz"):
        log_mel(x, sample_rate=44.1)
    with pytest.raises(ValueError, match=r"n_mels must be an int in 1..257 \(at most n_fft // 2 \+ 1\)"):
        log_mel(x, n_mels=300)
    with pytest.raises(ValueError, match="must be a multiple of hop_length"):
        mel_frames_per_video_frame(800, 300)


def test_audio_travels_with_the_batch_metadata(mnist1, actions):
    """attach_audio puts the seeded track into the batch; subsets, items, concatenation and the stream carry it."""
    from vidkit.data import MovingMNISTStream
    from vidkit.data.streams import concat_batches

    assert mnist1.audio is None and actions.audio is None                     # off by default: no cost
    clips = generate_actions(24, seed=5, num_frames=12, size=32, num_distractors=2, distractor_motion="moving")
    assert attach_audio(clips, 5) is clips
    np.testing.assert_array_equal(clips.audio, actions_audio(actions, 5).audio)
    assert clips.audio.shape == (24, 2, 12 * SAMPLES_PER_FRAME) and clips.audio.dtype == np.float32
    np.testing.assert_array_equal(clips.subset([3, 1]).audio, clips.audio[[3, 1]])
    np.testing.assert_array_equal(clips[2]["audio"], clips.audio[2])
    data = attach_audio(generate_moving_mnist(24, seed=3, num_digits=1, seq_len=20), 3)
    np.testing.assert_array_equal(data.audio, moving_mnist_audio(mnist1, 3).audio)
    np.testing.assert_array_equal(data.subset(slice(4, 9)).audio, data.audio[4:9])
    both = concat_batches([data.subset(slice(0, 5)), data.subset(slice(5, 8))])
    np.testing.assert_array_equal(both.audio, data.audio[:8])
    stream = MovingMNISTStream(4, seed=1, with_meta=True, audio=True, seq_len=10)
    x, meta = next(stream)
    assert meta.audio.shape == (4, 2, 10 * SAMPLES_PER_FRAME) and len(meta.audio) == len(x)
    again = stream.generate(0)                                                 # seeded like the frames
    np.testing.assert_array_equal(again.audio, meta.audio)
    assert not np.array_equal(stream.generate(1).audio, meta.audio)
    with pytest.raises(ValueError, match="audio=True needs with_meta=True"):
        MovingMNISTStream(4, audio=True)
