"""One Parquet file from the Arrow IPC chunks chDB streams, written while the next chunks are
read: the embedded backend's Parquet output.

chDB 4.4 streams each chunk of a `Parquet` result as a whole file of its own (they cannot
be concatenated), so the embedded backend asks ClickHouse for `ArrowStream` and encodes
Parquet here with Arrow's C++ writer. The encoding runs on a thread of its own, one table
behind the reading (both release the GIL), so the two cores share the work: on the 10 M
event benchmark this halves the time against encoding in the reading thread.

How the file is written (docs/exports.md):
- columns ClickHouse keeps as `LowCardinality` arrive as Arrow dictionaries
  (`ARROW_SETTINGS`) and are written dictionary-encoded from them, without hashing a
  value; other columns are written plain (ids and times gain nothing from a dictionary);
- statistics for the time columns only (what a reader skips row groups by);
- zstd, row groups of at least `ROW_GROUP_ROWS` rows (the first block alone, so that the
  first bytes leave at once);
- no Arrow schema in the footer (`store_schema=False`): readers see Parquet's own types
  (text as string, not as dictionary), as in a ClickHouse server's Parquet output.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import suppress

import pyarrow as pa
import pyarrow.parquet as pq

# The stream's session settings: LowCardinality as Arrow dictionaries, with 64-bit indexes
# in every chunk (else the index type follows each block's dictionary size and the chunks'
# schemas differ); blocks of up to 16,384 rows read with one thread (blocks of ~9,000 rows,
# each with a dictionary of its own, took 50% more time; a second reading thread won
# nothing while the encoder needs the other core).
ARROW_SETTINGS: dict[str, int] = {
    "output_format_arrow_low_cardinality_as_dictionary": 1,
    "output_format_arrow_use_64_bit_indexes_for_dictionary": 1,
    "max_block_size": 16_384,
    "preferred_block_size_bytes": 4_000_000,
    "max_threads": 1,
}
ROW_GROUP_ROWS = 32_768
_END = None


class _Sink:
    """A write-only file (the writer's) that hands what was written to another thread."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._lock = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._lock:
            self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        with self._lock:
            data, self._parts = b"".join(self._parts), []
        return data


def tables(chunks: Iterator[bytes]) -> Iterator[pa.Table]:
    """Arrow tables of at least ROW_GROUP_ROWS rows from whole Arrow IPC streams, but the
    first block alone and the last (what remains)."""
    gathered: list[pa.Table] = []
    rows, least = 0, 1
    for chunk in chunks:
        table = pa.ipc.open_stream(chunk).read_all()
        gathered.append(table)
        rows += table.num_rows
        if rows >= least:
            yield pa.concat_tables(gathered)
            gathered, rows, least = [], 0, ROW_GROUP_ROWS
    if gathered:
        yield pa.concat_tables(gathered)


def _writer(sink: _Sink, schema: pa.Schema) -> pq.ParquetWriter:
    dictionary = [field.name for field in schema if pa.types.is_dictionary(field.type)]
    times = [field.name for field in schema if pa.types.is_timestamp(field.type)]
    return pq.ParquetWriter(
        sink,
        schema,
        compression="zstd",
        use_dictionary=dictionary,
        write_statistics=times,
        store_schema=False,
    )


class _Encoder(threading.Thread):
    """Writes the tables it is handed, in order, into one Parquet file in `sink`."""

    def __init__(self, sink: _Sink) -> None:
        super().__init__(name="trail-parquet", daemon=True)
        self.sink = sink
        self.inbox: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.wrote = threading.Event()  # the first table is in the sink (or the encoder ended)
        self.stopped = threading.Event()

    def run(self) -> None:
        writer: pq.ParquetWriter | None = None
        try:
            while not self.stopped.is_set():
                table = self.inbox.get()
                if table is _END:
                    if writer is not None and not self.stopped.is_set():
                        writer.close()  # the footer
                    return
                if writer is None:
                    writer = _writer(self.sink, table.schema)
                writer.write_table(table)
                self.wrote.set()
        except BaseException as exc:  # handed to the reading thread, which raises it
            self.error = exc
        finally:
            self.stopped.set()
            self.wrote.set()

    def hand(self, table: pa.Table | None) -> None:
        """Give the encoder its next table (waits while it is one table behind)."""
        while not self.stopped.is_set():
            try:
                self.inbox.put(table, timeout=0.1)
                return
            except queue.Full:
                continue
        self.raise_error()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Stop at the end of the table being written (the file stays unfinished)."""
        self.stopped.set()
        with suppress(queue.Full):
            self.inbox.put_nowait(_END)  # wakes an encoder waiting for a table
        self.join()


def parquet(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The Parquet file of the Arrow IPC `chunks`, piece by piece as it is written. Closing
    it early stops the encoder; the chunks are read in the caller's thread only."""
    sink = _Sink()
    encoder = _Encoder(sink)
    encoder.start()
    finished = False
    try:
        first = True
        for table in tables(chunks):
            encoder.hand(table)
            if first:  # the first bytes leave as soon as the first block is encoded
                encoder.wrote.wait()
                encoder.raise_error()
                first = False
            data = sink.take()
            if data:
                yield data
        encoder.hand(_END)
        encoder.join()
        encoder.raise_error()
        finished = True
        yield sink.take()
    finally:
        if not finished:
            encoder.stop()
