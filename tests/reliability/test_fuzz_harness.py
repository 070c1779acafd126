"""The fuzzing harness itself: mutations are reproducible, and every failure kind it claims to
catch (a native crash, a hang, a foreign exception type, a giant output) is caught, saved and
replayable, without harming the process that runs the campaign."""

from __future__ import annotations

import json
import random

import pytest

from fuzz import campaign, mutators, targets


def test_mutations_are_reproducible_and_change_the_input():
    seed = bytes(range(256)) * 8
    changed = 0
    for i in range(300):
        a, names_a = mutators.mutate(seed, random.Random(f"7:{i}"), others=[b"x" * 100])
        b, names_b = mutators.mutate(seed, random.Random(f"7:{i}"), others=[b"x" * 100])
        assert (a, names_a) == (b, names_b)
        assert 1 <= len(names_a) <= 4
        changed += a != seed
    # A mutation may undo itself (a swap of equal bytes), but almost never.
    assert changed >= 295


@pytest.mark.parametrize("name", sorted(mutators.MUTATORS))
def test_each_mutator_handles_tiny_and_empty_inputs(name):
    fn = mutators.MUTATORS[name]
    rng = random.Random(name)
    for data in (b"", b"a", b"ab", bytes(600)):
        out = fn(data, rng)
        assert isinstance(out, bytes)


def test_truncate_only_shortens():
    rng = random.Random(1)
    data = bytes(range(200))
    for _ in range(100):
        out = mutators.truncate(data, rng)
        assert len(out) < len(data) and data.startswith(out)


@pytest.fixture
def runner(tmp_path):
    r = campaign.Runner(time_limit=2.0, log_dir=tmp_path)
    yield r
    r.shutdown()


@pytest.mark.parametrize("form", ["bytes", "path"])
def test_runner_reports_a_native_crash_and_restarts(runner, form):
    verdict = runner.run("selftest_crash", form, targets.TRIGGER + b"!", suffix=".jpg")
    assert verdict["outcome"] == "crash"
    assert verdict["exit_code"] == -11  # SIGSEGV
    assert "Segmentation fault" in verdict["log_tail"]  # faulthandler's Python stack
    assert runner.restarts == 1
    # The next input gets a fresh worker.
    assert runner.run("selftest_crash", form, b"fine", suffix=".jpg")["outcome"] == "ok"


def test_runner_reports_a_hang_with_where_it_was_stuck(runner):
    verdict = runner.run("selftest_hang", "bytes", targets.TRIGGER)
    assert verdict["outcome"] == "hang"
    assert 2.0 <= verdict["seconds"] < 10
    assert "time.sleep" in verdict["log_tail"] or "in run" in verdict["log_tail"]
    assert runner.run("selftest_hang", "bytes", b"fine")["outcome"] == "ok"


def test_runner_reports_a_foreign_exception_type(runner):
    verdict = runner.run("selftest_exception", "memoryview", targets.TRIGGER)
    assert verdict["outcome"] == "exception"
    assert verdict["error_type"] == "builtins.IndexError"
    assert "IndexError" in verdict["traceback"]
    assert runner.restarts == 0  # an exception does not cost a worker


def test_campaign_saves_findings_that_reproduce(tmp_path, fuzz_corpus):
    corpus_dir, _ = fuzz_corpus
    exc = targets.SELFTESTS["selftest_exception"]
    blow = targets.SELFTESTS["selftest_blowup"]
    report = campaign.run_campaign(
        seed=3,
        max_inputs=60,
        corpus_dir=corpus_dir,
        findings_dir=tmp_path / "findings",
        time_limit=5.0,
        targets=[exc, blow],
        max_saved_per_signature=2,
    )
    assert report.inputs == 60
    # About one input in eight triggers each self-test.
    assert report.outcomes["exception"] >= 1 and report.outcomes["blowup"] >= 1
    assert report.outcomes["ok"] + report.bad == 60
    summary = json.loads((tmp_path / "findings" / "summary.json").read_text())
    assert summary["inputs"] == 60 and summary["bad"] == report.bad
    saved = sorted((tmp_path / "findings").glob("*.bin"))
    assert saved and len(saved) <= 4  # two signatures, at most two inputs each
    for path in saved:
        info = json.loads(path.with_suffix(".json").read_text())
        assert info["size"] == path.stat().st_size
        replay = campaign.reproduce(path, time_limit=5.0)
        want = "exception" if info["target"] == "selftest_exception" else "ok"
        assert replay["outcome"] == want
        if want == "ok":  # a blowup is judged by the campaign from the output size
            assert replay["output_bytes"] == 1 << 40


def test_campaign_is_deterministic(tmp_path, fuzz_corpus):
    corpus_dir, _ = fuzz_corpus
    runs = []
    for k in range(2):
        report = campaign.run_campaign(
            seed=11,
            max_inputs=40,
            corpus_dir=corpus_dir,
            findings_dir=tmp_path / str(k),
            targets=[targets.SELFTESTS["selftest_exception"]],
        )
        runs.append(
            (dict(report.outcomes), sorted(p.name for p in (tmp_path / str(k)).glob("*.bin")))
        )
    assert runs[0] == runs[1]
