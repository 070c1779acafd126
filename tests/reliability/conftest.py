"""Reliability tests: fuzzing, leaks, faults, hangs and a thread soak (see docs/reliability.md).

The fuzzing harness lives in ``fuzz/`` at the repository root (it is not part of the installed
package); these tests import it from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def fuzz_corpus(tmp_path_factory):
    """The fuzzing seed files, made once per session: ``{name: (kind, bytes)}``."""
    from fuzz import corpus

    folder = tmp_path_factory.mktemp("fuzz-corpus")
    return folder, corpus.build(folder)
