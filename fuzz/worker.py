"""The child process that runs targets, one input at a time, for ``campaign.Runner``.

It is the only process that imports spdl's native code, so a crash in FFmpeg or in our Cython
kills it and nothing else. Messages on the pipe: the parent sends a JSON header and the input
bytes; the worker answers with a JSON outcome. Python tracebacks of a native crash (faulthandler)
and of an input that runs too long go to the worker's log file, which the parent saves with the
input.
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback


def _limit_memory(limit_bytes: int) -> None:
    """Cap the address space so a file that asks for a giant allocation fails in this process
    (as ENOMEM or MemoryError, which the campaign reports) instead of exhausting the machine."""
    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def serve(conn, options: dict) -> None:
    """Answer inputs on ``conn`` until the parent closes it.

    Args:
        conn: a ``multiprocessing`` connection.
        options: ``log_path`` (where stderr goes), ``memory_limit`` (bytes of address space, 0 =
            none), ``time_limit`` (seconds; a traceback is dumped at 90% of it), ``root`` (the
            repository, for ``fuzz.targets``).
    """
    # Ctrl-C reaches the whole process group; the parent decides, the worker must not report
    # the interrupt as a finding against whatever input it was running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = open(options["log_path"], "ab", buffering=0)  # noqa: SIM115 (lives as long as we do)
    os.dup2(log.fileno(), 2)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(file=sys.stderr, all_threads=True)
    _limit_memory(options.get("memory_limit", 0))
    sys.path.insert(0, options["root"])
    import spdl.io
    from fuzz import targets

    media_error = getattr(spdl.io, "MediaError", None)
    # Every target passes a valid filter description (or none): an InvalidFilterError, which
    # tells the user their filter string is wrong, can only be file data blamed on the user.
    invalid_filter = getattr(spdl.io, "InvalidFilterError", ())
    try:
        spdl.io.utils.set_ffmpeg_log_level("quiet")
    except Exception:  # a build without the utils module still fuzzes
        pass
    # The library's own decompression-bomb guard, tightened to the campaign's blowup threshold:
    # a larger output then means the guard failed, not merely that a file is big.
    if options.get("decode_max_bytes") and hasattr(spdl.io, "set_decode_limits"):
        spdl.io.set_decode_limits(max_bytes=options["decode_max_bytes"])
    known = {t.name: t for t in targets.TARGETS}
    known.update(targets.SELFTESTS)
    tmpdir = options.get("tmpdir") or tempfile.mkdtemp(prefix="spdl-fuzz-")
    watchdog = max(0.1, 0.9 * options.get("time_limit", 10.0))
    conn.send_bytes(b'{"ready": true}')
    while True:
        try:
            header = json.loads(conn.recv_bytes())
            data = conn.recv_bytes()
        except EOFError:
            break
        target = known[header["target"]]
        src = targets.make_source(data, header["form"], header.get("suffix", ""), tmpdir)
        print(f"--- input {header.get('index')} {header['target']}", file=sys.stderr)
        faulthandler.dump_traceback_later(watchdog, exit=False)
        t0 = time.perf_counter()
        result: dict = {}
        try:
            result["output_bytes"] = int(target.fn(src))
            result["outcome"] = "ok"
        except BaseException as e:  # everything is a finding except MediaError (see above)
            result["error_type"] = f"{type(e).__module__}.{type(e).__qualname__}"
            result["error"] = str(e)[:2000]
            if (
                media_error is not None
                and isinstance(e, media_error)
                and not isinstance(e, invalid_filter)
            ):
                result["outcome"] = "media_error"
            else:
                result["outcome"] = "exception"
                result["traceback"] = traceback.format_exc()[-8000:]
        finally:
            faulthandler.cancel_dump_traceback_later()
        result["seconds"] = time.perf_counter() - t0
        result["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if isinstance(src, str):
            os.unlink(src)
        del src
        conn.send_bytes(json.dumps(result).encode())
