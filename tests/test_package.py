"""The package's shape: what importing pulls in, the FFmpeg it reports, the build it describes."""

import json
import re
import subprocess
import sys

import pytest

import media


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("heavy", ["numpy", "cupy", "torch"])
def test_pipeline_import_is_light(heavy):
    assert heavy not in _modules_after_import("import spdl.pipeline")


def test_io_import_needs_no_cuda():
    # A CUDA-less interpreter: make any CUDA import fail, then import spdl.io.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'cupy', 'torch', 'PyNvVideoCodec', 'cuda'}:\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import spdl.io, spdl.io.utils\n"
        "print(spdl.io.utils.get_ffmpeg_versions()['libavcodec'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.count(".") == 2


def test_ffmpeg_versions_match_the_command_line():
    from spdl.io import utils

    versions = utils.get_ffmpeg_versions()
    assert set(versions) == {
        "ffmpeg",
        "libavutil",
        "libavcodec",
        "libavformat",
        "libavfilter",
        "libswscale",
        "libswresample",
    }
    # The ffmpeg command line the tests use is built on the same libraries.
    banner = subprocess.run([media.FFMPEG, "-version"], capture_output=True, text=True).stdout
    for lib in ("libavutil", "libavcodec", "libavformat", "libavfilter", "libswscale"):
        found = re.search(rf"{lib}\s+(\d+)\.\s*(\d+)\.\s*(\d+)", banner)
        assert found, banner
        assert versions[lib] == ".".join(found.groups())


def test_build_config_is_reported():
    from spdl.io import utils

    config = utils.get_build_config()
    assert isinstance(config["release_gil"], bool)
    assert "libavformat" in config["ffmpeg_build"]
    assert config["free_threaded"] in (True, False)


def test_ffmpeg_log_level_round_trip():
    from spdl.io import utils

    before = utils.get_ffmpeg_log_level()
    try:
        utils.set_ffmpeg_log_level("warning")
        assert utils.get_ffmpeg_log_level() == "warning"
        with pytest.raises(ValueError, match="Unknown FFmpeg log level"):
            utils.set_ffmpeg_log_level("loud")
        with pytest.raises(TypeError):
            utils.set_ffmpeg_log_level(1.5)
    finally:
        utils.set_ffmpeg_log_level(before)


def test_filters_listed():
    from spdl.io import utils

    filters = utils.get_ffmpeg_filters()
    assert {"scale", "format", "fps", "aresample"} <= set(filters)


def test_spdl_info_command():
    out = subprocess.run(
        [sys.executable, "-m", "spdl", "info", "--json"], capture_output=True, text=True, check=True
    )
    info = json.loads(out.stdout)
    assert info["ffmpeg"]["libavcodec"]
    assert "release_gil" in info["build"]


def test_media_fixture_reference_is_exact(h264_video):
    frames = media.reference_video(h264_video)
    assert frames.shape == (50, 240, 320, 3)
    assert frames.dtype.name == "uint8"
    assert media.probe_size(h264_video, vf="scale=160:120") == (160, 120)
