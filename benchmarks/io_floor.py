"""The I/O floor: write N bytes once to a new file, then fdatasync, as a whole process.

No renderer can produce its output faster than the machine writes it; ``benchmarks/batch.py``
runs this with the byte count of atomcast's ``rendered.jsonl`` and reports the ratio.
The bytes are a 1 MiB block of JSON-like text repeated (no compression happens on the way
to disk, so their content does not matter).

Usage::

    python benchmarks/io_floor.py --bytes 1234567890 --out /tmp/floor.bin
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

BLOCK = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    line = b'{"profile_id":"p-0000001","channels":{"email":{"html":"<p>floor</p>"}}}\n'
    block = (line * (BLOCK // len(line) + 1))[:BLOCK]
    remaining = args.bytes
    with open(args.out, "wb") as out:
        while remaining > 0:
            remaining -= out.write(block[: min(BLOCK, remaining)])
        out.flush()
        os.fdatasync(out.fileno())


if __name__ == "__main__":
    main()
