"""The sample set ``spdl bench`` and the docs use: its content, its cache, its failures."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from spdl.source import DirectorySource, ImageNetSource, _sample_set, get_sample_set

import media


@pytest.fixture(scope="module")
def sample_root(xdg_cache):
    return get_sample_set(cache_dir=xdg_cache / "spdl")


def test_images_are_an_imagenet_style_folder(sample_root):
    images = ImageNetSource(sample_root / "images")
    assert images.classes == ["bars", "fractal", "life", "pattern"]
    assert len(images) == 32
    assert sorted({label for _, label in images}) == [0, 1, 2, 3]
    # Every image decodes to 320x240, and images within a class differ.
    for path, _ in images[::8]:
        assert media.probe_size(path) == (320, 240)
    first = media.reference_video(images[0][0])
    second = media.reference_video(images[1][0])
    assert first.shape == (1, 240, 320, 3) and (first != second).any()


def test_videos_are_h264_clips(sample_root):
    videos = DirectorySource(sample_root / "videos", extensions=".mp4")
    assert len(videos) == 4
    frames = media.reference_video(videos[0])
    assert frames.shape == (50, 240, 320, 3)
    codec = media.run_ffmpeg(["-i", videos[0], "-map", "0:v", "-c", "copy", "-f", "h264", "-"])
    assert codec[:4] == b"\x00\x00\x00\x01"  # Annex B start code: the stream is H.264


def test_audio_clips(sample_root):
    clips = DirectorySource(sample_root / "audio", extensions=(".wav", ".flac", ".m4a"))
    assert len(clips) == 4
    for path in clips:
        info = media.probe_audio(path)
        raw = media.reference_raw(path, args=["-f", "s16le", "-ac", "1"])
        seconds = len(raw) / 2 / info["sample_rate"]
        assert 2.9 < seconds < 3.2, (path, seconds)


def test_kind_selects_a_folder(sample_root):
    assert get_sample_set("videos", cache_dir=sample_root.parent) == sample_root / "videos"
    with pytest.raises(ValueError, match="kind must be one of"):
        get_sample_set("pictures", cache_dir=sample_root.parent)


def test_cached_set_is_reused_and_an_incomplete_one_remade(sample_root, tmp_path, monkeypatch):
    root = tmp_path / sample_root.name
    shutil.copytree(sample_root, root)
    calls = []
    real = _sample_set._generate
    monkeypatch.setattr(_sample_set, "_generate", lambda *a: (calls.append(1), real(*a)))
    assert get_sample_set(cache_dir=tmp_path) == root
    assert calls == []  # complete: nothing regenerated
    # A file changed or gone makes the set incomplete...
    wav = root / "audio" / "tone_stereo.wav"
    with open(wav, "r+b") as f:
        f.truncate(100)
    assert not _sample_set._is_complete(root)
    (root / "videos" / "life.mp4").unlink()
    # ...and the next call makes it again, whole.
    assert get_sample_set(cache_dir=tmp_path) == root
    assert calls == [1]
    assert _sample_set._is_complete(root)
    assert wav.read_bytes() == (sample_root / "audio" / "tone_stereo.wav").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # no temporary folder left


def test_default_location_follows_xdg_cache_home(sample_root, tmp_path, monkeypatch):
    shutil.copytree(sample_root, tmp_path / "spdl" / sample_root.name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert get_sample_set("audio") == tmp_path / "spdl" / "sample_set-v1" / "audio"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _sample_set._cache_root() == tmp_path / "home" / ".cache" / "spdl"


def test_concurrent_callers_share_one_complete_set_with_the_same_bytes(sample_root, tmp_path):
    results, errors = [], []

    def call():
        try:
            results.append(get_sample_set(cache_dir=tmp_path))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(set(results)) == 1 and _sample_set._is_complete(results[0])
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]
    # The content is deterministic: a second generation writes the same bytes.
    first = json.loads((sample_root / "manifest.json").read_text())
    second = json.loads((results[0] / "manifest.json").read_text())
    assert first == second
    for rel in first["files"]:
        assert (sample_root / rel).read_bytes() == (results[0] / rel).read_bytes(), rel


def test_missing_ffmpeg_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_sample_set.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs the ffmpeg command line"):
        get_sample_set(cache_dir=tmp_path)
