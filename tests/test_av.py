"""Notebook 05's widgets: the audio-visual player (vidkit.viz.av.AVPlayer) and the cross-modal neighbour browser
(vidkit.viz.crossmodal.CrossModalBrowser): playable media in the page, true nearest neighbours, clear errors."""

from __future__ import annotations

import base64
import re
import subprocess

import numpy as np
import pytest
import torch

from vidkit.data.actions import generate_actions
from vidkit.data.audio import actions_audio

pytest.importorskip("ipywidgets")

T, FPS, SR = 6, 10, 8000
S = T * SR // FPS


@pytest.fixture(scope="module")
def clips():
    return generate_actions(6, split="test", seed=3, num_frames=T, size=16, num_distractors=0)


@pytest.fixture(scope="module")
def sound(clips):
    return actions_audio(clips, seed=3)


def _video_uris(html: str) -> list[bytes]:
    """The MP4s of every ``<video ... src="data:video/mp4;base64,...">`` in ``html``."""
    tags = re.findall(r"<video\b[^>]*>", html)
    assert tags and all(" controls" in t for t in tags)
    return [base64.b64decode(m) for t in tags for m in re.findall(r'src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', t)]


def _streams(mp4: bytes, tmp_path) -> str:
    """ffmpeg's description of the file's streams (``Stream #0:0 ... Video: h264 ...``)."""
    import imageio_ffmpeg

    path = tmp_path / "probe.mp4"
    path.write_bytes(mp4)
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True)
    return "\n".join(line for line in out.stderr.splitlines() if "Stream #" in line)


# ----------------------------------------------------------------------------------------------- AVPlayer


def test_av_player_embeds_a_playable_video_with_sound(clips, sound, tmp_path):
    from vidkit.viz.av import AVPlayer

    player = AVPlayer(clips.frames[0], sound.audio[0], fps=FPS, sample_rate=SR, scale=4, title="clip 0",
                      onsets=sound.onset_frames[0])
    html = player.to_html()
    assert 'class="vidkit-avplayer"' in html and "<b>clip 0</b>" in html
    (mp4,) = _video_uris(html)
    assert mp4 == player.mp4
    streams = _streams(mp4, tmp_path)
    assert "Video: h264" in streams and "64x64" in streams
    assert "Audio: aac" in streams and "8000 Hz" in streams and "stereo" in streams
    assert 'src="data:image/png;base64,' in html                      # the spectrogram beside it
    assert player.onsets.tolist() == np.flatnonzero(sound.onset_frames[0]).tolist()
    bundle = player._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= set(bundle)
    assert player.widget.children[0].value in bundle["text/html"]     # live view = static markup
    assert player._repr_html_() == html
    assert repr(player).startswith("AVPlayer(T=6, 64x64")
    assert player.save_mp4(tmp_path / "out.mp4").read_bytes() == mp4
    mono = AVPlayer(clips.frames[1], sound.audio[1].mean(0), spectrogram=False, scale=2)
    assert mono.spectrogram is None and "mono" in _streams(mono.mp4, tmp_path)


def test_av_player_bad_inputs(clips, sound):
    from vidkit.viz.av import AVPlayer

    f, a = clips.frames[0], sound.audio[0]
    with pytest.raises(ValueError, match="audio must last as long as the frames"):
        AVPlayer(f, a[:, :-800])
    with pytest.raises(ValueError, match="audio must last as long as the frames"):
        AVPlayer(f, a, sample_rate=16000)                              # the wrong sample rate: wrong length
    with pytest.raises(ValueError, match=r"\(S,\), \(1, S\) or \(2, S\)"):
        AVPlayer(f, np.zeros((3, S), np.float32))                      # three channels
    with pytest.raises(ValueError, match=r"finite and in \[-1, 1\]"):
        AVPlayer(f, a + 2)
    with pytest.raises(ValueError, match="onset frame indices must be in 0..5"):
        AVPlayer(f, a, onsets=[7])
    with pytest.raises(ValueError, match=r"onsets must be \(6,\) bool"):
        AVPlayer(f, a, onsets=np.ones(4, bool))
    with pytest.raises(ValueError, match="fps must be"):
        AVPlayer(f, a, fps=0)
    with pytest.raises(TypeError, match="title must be a string"):
        AVPlayer(f, a, title=3)
    with pytest.raises(ValueError):
        AVPlayer(np.zeros((T, 4), np.uint8), a)                        # not a clip


# ----------------------------------------------------------------------------------------------- browser


def _known_spaces():
    """Embeddings whose neighbours are known by construction: in ``va`` clip i's nearest sounds are i, i+1, ...;
    in ``vat`` every sentence j is nearest to clip/sound j."""
    n, m = 6, 4
    ang = np.linspace(0, np.pi / 2, n)                                 # 6 directions on a quarter circle
    va = np.stack([np.cos(ang), np.sin(ang)], 1)
    vat_v = np.eye(n, 8)
    vat_t = np.eye(m, 8) + 0.1 * np.eye(m, 8, 1)                       # sentence j: clip j, then clip j + 1
    return {"va": {"video": torch.tensor(va), "audio": torch.tensor(va + [0.0, 1e-3])},
            "vat": {"video": torch.tensor(vat_v), "audio": torch.tensor(vat_v), "text": torch.tensor(vat_t)}}


SENTENCES = ["a 3 slides left", "a four is moving up", "okay so now", "the 7 rotates clockwise"]


def test_browser_precomputes_the_true_nearest_neighbours(clips, sound, tmp_path):
    from vidkit.eval.retrieval import search
    from vidkit.viz.crossmodal import CrossModalBrowser

    spaces = _known_spaces()
    queries = [("video", 0), ("audio", 5), ("text", 1), ("text", 2)]
    b = CrossModalBrowser(clips.frames, sound.audio, SENTENCES, spaces, digit=clips.digit, action=clips.action,
                          queries=queries, k=2, scale=2)
    assert b.pair_space[("video", "audio")] == "va" and b.pair_space[("audio", "text")] == "vat"
    r = b.results[("video", 0)]
    assert r["audio"]["index"].tolist() == [0, 1] and bool(r["audio"]["own"].iloc[0])     # its own sound first
    assert r["text"]["index"].tolist()[0] == 0
    assert b.results[("audio", 5)]["video"]["index"].tolist() == [5, 4]
    assert b.results[("text", 1)]["video"]["index"].tolist() == [1, 2]
    assert b.results[("text", 1)]["audio"]["index"].tolist() == [1, 2]
    for (mod, i), res in b.results.items():                            # every table is search()'s top k
        for other, table in res.items():
            space = b.pair_space[(mod, other)]
            scores, idx = search(spaces[space][mod][i:i + 1], spaces[space][other], k=2)
            assert table["index"].tolist() == idx[0].tolist()
            assert np.allclose(table["score"], scores[0].numpy())
    # right / wrong: a sentence that states nothing is right for no query
    assert not b.results[("text", 2)]["video"]["right"].any()
    d, a = clips.digit, clips.action
    assert b.results[("video", 0)]["audio"]["right"].tolist() == [
        bool(d[j] == d[0] and a[j] == a[0]) for j in (0, 1)]
    # the page: a query list linked in the browser to one result page per query, every clip a video with sound
    assert len(b.stack.children) == len(queries) and b.select.index == 0
    assert {b.link.source[1], b.link.target[1]} == {"index", "selected_index"}
    assert b.show(("text", 1)) is b.results[("text", 1)] and b.select.index == 2
    html = b.to_html()
    assert html.count("<details") == len(queries) and 'class="vidkit-crossmodal-browser"' in html
    mp4s = _video_uris(html)
    assert mp4s and all("Audio: aac" in _streams(m, tmp_path) for m in mp4s[:3])
    assert "vidkit-crossmodal-browser" in b.widget._dom_classes
    assert repr(b).startswith("CrossModalBrowser(6 clips, 4 sentences")


def test_browser_disjoint_design_has_no_sound_text_space(clips, sound):
    from vidkit.viz.crossmodal import CrossModalBrowser

    sp = _known_spaces()
    disjoint = {"va": sp["va"], "vt": {"video": sp["vat"]["video"], "text": sp["vat"]["text"]}}
    b = CrossModalBrowser(clips.frames, sound.audio, SENTENCES, disjoint, queries=[("audio", 0), ("text", 0)], k=1)
    assert b.results[("audio", 0)]["text"] is None and b.results[("text", 0)]["audio"] is None
    assert b.results[("text", 0)]["video"]["index"].tolist() == [0]
    assert "no space where sounds meet sentences" in b.to_html()
    assert "right" not in b.results[("text", 0)]["video"]           # no labels given: no verdicts


def test_browser_default_queries_and_mmv_spaces(clips, sound):
    from vidkit.data.audio import log_mel
    from vidkit.models.encoders import Conv3dEncoder
    from vidkit.models.mmv import MMV, AudioEncoder
    from vidkit.models.text import TextEncoder, Vocabulary
    from vidkit.viz.crossmodal import CrossModalBrowser, mmv_spaces

    vocab = Vocabulary.build(SENTENCES)
    tokens, lengths = vocab.encode(SENTENCES)
    torch.manual_seed(0)
    model = MMV(Conv3dEncoder(1, 4, 8), AudioEncoder(2, 80, 4, 8), TextEncoder(len(vocab), 8, 8, 8), "fac",
                fine_dim=8, coarse_dim=4)
    video = torch.from_numpy(clips.frames).float()[:, :, None] / 255
    spaces = mmv_spaces(model, video, log_mel(sound.audio), tokens, lengths)
    assert list(spaces) == ["va", "vat"] and set(spaces["va"]) == {"video", "audio"}
    assert spaces["vat"]["text"].shape == (4, 4) and spaces["vat"]["audio"].shape == (6, 4)
    assert model.training                                             # restored
    b = CrossModalBrowser(clips.frames, sound.audio, SENTENCES, spaces, digit=clips.digit, action=clips.action,
                          n_queries=2, k=1)
    assert [q[0] for q in b.queries] == ["video"] * 2 + ["audio"] * 2 + ["text"] * 2
    assert all(b.labels["text"][i, 0] >= 0 for _, i in b.queries[4:])       # sentences stating a digit first


def test_browser_bad_inputs(clips, sound):
    from vidkit.viz.crossmodal import CrossModalBrowser

    sp = _known_spaces()
    f, a = clips.frames, sound.audio
    with pytest.raises(ValueError, match="one track per clip"):
        CrossModalBrowser(f, a[:5], SENTENCES, sp)
    with pytest.raises(ValueError, match="num_frames \\* samples_per_frame"):
        CrossModalBrowser(f, a[:, :, :-10], SENTENCES, sp)
    with pytest.raises(ValueError, match=r"spaces\[.vat.\]\[.text.\] must have 3 rows"):
        CrossModalBrowser(f, a, SENTENCES[:3], sp)
    with pytest.raises(ValueError, match="unknown modalities \\['speech'\\]"):
        CrossModalBrowser(f, a, SENTENCES, {"x": {"speech": sp["va"]["video"]}})
    with pytest.raises(ValueError, match="same dimension"):
        CrossModalBrowser(f, a, SENTENCES, {"x": {"video": sp["va"]["video"], "audio": sp["vat"]["audio"]}})
    with pytest.raises(ValueError, match="no space holds two modalities"):
        CrossModalBrowser(f, a, SENTENCES, {"x": {"video": sp["va"]["video"]}})
    with pytest.raises(ValueError, match="non-empty strings"):
        CrossModalBrowser(f, a, ["a 3 slides left", ""], sp)
    with pytest.raises(ValueError, match="sound index must be an int in 0..5"):
        CrossModalBrowser(f, a, SENTENCES, sp, queries=[("audio", 6)])
    with pytest.raises(ValueError, match="\\(modality, index\\)"):
        CrossModalBrowser(f, a, SENTENCES, sp, queries=[("smell", 0)])
    with pytest.raises(ValueError, match="k must be an int in 1..4"):
        CrossModalBrowser(f, a, SENTENCES, sp, k=5)
    with pytest.raises(ValueError, match="digit and action together"):
        CrossModalBrowser(f, a, SENTENCES, sp, digit=clips.digit)
    with pytest.raises(ValueError, match=r"sentence_labels must be \(4, 2\)"):
        CrossModalBrowser(f, a, SENTENCES, sp, digit=clips.digit, action=clips.action, sentence_labels=[[1, 2]])
    with pytest.raises(ValueError, match="NaN or infinite"):
        CrossModalBrowser(f, a, SENTENCES, {"va": {"video": sp["va"]["video"] * np.nan, "audio": sp["va"]["audio"]}})
    b = CrossModalBrowser(f, a, SENTENCES, sp, queries=[("video", 0)], k=1)
    with pytest.raises(ValueError, match="not one of the browser's queries"):
        b.show(("video", 3))
