"""memkit's command line: ``python -m memkit reindex`` (also ``make reindex``).

``reindex`` re-embeds a libSQL vector table with the configured embedder
(``memkit.vector.libsql_reindex``), with a progress bar; run it again after an interruption and
it resumes. Configuration is the server's: ``MEMKIT_EMBEDDER`` (and
``MEMKIT_EMBEDDING_DIMENSION``), ``MEMKIT_STORAGE_URL``, ``MEMKIT_VECTOR_URL``, ``MEMKIT_CONFIG``
(agents may keep messages in stores of their own).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from memkit.errors import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memkit", description="memkit maintenance commands")
    commands = parser.add_subparsers(dest="command", required=True)
    reindex = commands.add_parser(
        "reindex",
        help="re-embed the libSQL vector table with the configured embedder (resumable)",
        description="Re-embed every message the libSQL vector table holds with MEMKIT_EMBEDDER, "
        "then swap the new vectors in. Stop the server first. Interrupted, it resumes on the next run.",
    )
    reindex.add_argument(
        "--vectors",
        metavar="URL",
        help="the libSQL file (file:<path>) to re-index; default MEMKIT_VECTOR_URL, "
        "else MEMKIT_STORAGE_URL when that is a libSQL file",
    )
    args = parser.parse_args(argv)
    try:
        return run_reindex(args.vectors)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_reindex(vectors_url: str | None) -> int:
    from memkit.composition import reindexing
    from memkit.vector.libsql_reindex import reindex

    work = reindexing(vectors_url)
    try:
        embedder = work.embedder
        print(
            f"re-indexing the vectors in {work.database.path} with {embedder.name} ({embedder.dimension} dimensions)",
            file=sys.stderr,
        )
        result = reindex(
            work.database, work.storages, embedder, embedder_name=work.embedder_name, progress=ProgressBar(sys.stderr)
        )
    finally:
        work.close()
    previous = f"{result.previous[0] or 'an unrecorded embedder'} ({result.previous[1]} dimensions)"
    if result.nothing_to_do:
        print(f"nothing to do: the vectors are already {result.embedder}'s", file=sys.stderr)
        return 0
    resumed = f", resumed after {result.resumed_at:,}" if result.resumed_at else ""
    print(
        f"re-indexed {result.messages:,} messages ({result.chunks:,} vectors{resumed}; "
        f"{result.skipped:,} gone or without text) in {result.seconds:.1f} s: "
        f"{previous} -> {result.embedder} ({result.dimension} dimensions)",
        file=sys.stderr,
    )
    return 0


class ProgressBar:
    """``progress`` for ``reindex``: one line redrawn in place on a terminal, a line every few
    seconds otherwise (logs, CI)."""

    WIDTH = 30
    PLAIN_INTERVAL_SECONDS = 5.0

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.first_done: int | None = None
        self.last_plain = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == "indexing":
            self._line("building the vector index over all rows..." if done == 0 else "vector index built", final=True)
            return
        if self.first_done is None:
            self.first_done, self.started = done, now
        finished = done - self.first_done
        elapsed = now - self.started
        rate = finished / elapsed if elapsed > 0 and finished else 0.0
        eta = f"{(total - done) / rate:,.0f} s" if rate else "?"
        filled = int(self.WIDTH * done / total) if total else self.WIDTH
        line = (
            f"embedding [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} messages "
            f"{100 * done / total if total else 100:3.0f}%  {rate:,.0f}/s  ETA {eta}"
        )
        if self.tty:
            self._line(line, final=done >= total)
        elif done >= total or now - self.last_plain >= self.PLAIN_INTERVAL_SECONDS or done == self.first_done:
            self.last_plain = now
            self._line(line, final=True)

    def _line(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
