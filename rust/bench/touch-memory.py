#!/usr/bin/env python3
"""Times the first write to every page of GB gigabytes of new anonymous memory.

On a machine that hands freed memory back to its host (free page reporting, as the project's
virtual machine does), memory the guest freed a moment ago may have to be fetched from the host
again: run it twice in a row, and again after a pause, to see what a page fault costs there
(docs/performance.md, twenty-third round).

usage: touch-memory.py GB
"""
import mmap
import sys
import time

gigabytes = float(sys.argv[1])
size = int(gigabytes * (1 << 30))
page = mmap.PAGESIZE
memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
start = time.monotonic()
for offset in range(0, size, page):
    memory[offset] = 1
print(f"{gigabytes:g} GB touched in {time.monotonic() - start:.2f} s", flush=True)
