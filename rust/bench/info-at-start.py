#!/usr/bin/env python3
"""Times a command every 20 ms during the first seconds of a migration job on a pool of FILES
files, where `--only million` asks `migration info` only four times a second: populate FILES
files of 1 KiB on pool1, start the job at once (by default `migration move -concurrency=16
pool2`, as `--only million` does), and time the command (by default `migration info 1`) until
SECONDS have passed or the job is over. Prints the slowest answers, each with when it was asked
and the job's state then (read by a `migration info 1` sent right after it), the median, the
99th and 99.9th percentiles, how many answers took over 5 and over 8 ms, and the first
lines of the command's first answer (so that a command minidcache refuses shows). Commands are
matched by their echo, so give them without leading or trailing blanks. Also prints
minidcache's resident memory once the files are populated (`--state cached` populates cached
replicas instead of precious ones; `--sticky 'lhcb(1)'` gives each a sticky record, here one
that expires after a second, and `--settle S` waits S seconds between the populate and the
job, for the records to expire and leave). `--size 1000..4000` populates sizes spread over a
range instead of 1 KiB each, so that a job with `-order=size` has keys to sort.

docs/performance.md's fourteenth round found the scan's stall with the default command (34-44
ms answers while INITIALIZING, 2-6 ms after the fix), and its fifteenth round a write held up by
the whole scan with `--job 'migration copy -concurrency=1 pool2' --probe 'populate -files=1
-size=1024'` (514 ms, then at most one batch of the scan). Its twenty-second round probed whole
million-file moves (`info-at-start.py MINIDCACHE DIR 1000000 1000`) to see the tail of
`migration info`'s answers on a journalled ext4 over a loop device.

usage: info-at-start.py MINIDCACHE DIR [FILES [SECONDS]] [--job COMMAND] [--probe COMMAND] [--state STATE] [--size N|MIN..MAX]
                          [--sticky OWNER[(SECONDS)]] [--settle SECONDS] [--short-slice]
       (DIR is deleted and made anew)
"""
import argparse
import shutil
import subprocess
import sys
import time

arguments = argparse.ArgumentParser(usage=__doc__.rsplit("usage: ", 1)[1])
arguments.add_argument("binary")
arguments.add_argument("root")
arguments.add_argument("files", nargs="?", type=int, default=1_000_000)
arguments.add_argument("seconds", nargs="?", type=float, default=4.0)
arguments.add_argument("--job", default="migration move -concurrency=16 pool2")
arguments.add_argument("--probe", default="migration info 1")
arguments.add_argument("--state", default="precious", choices=["precious", "cached"])
arguments.add_argument("--size", default="1024", help="populate's -size: n or min..max (a sorted job's keys differ only if the sizes do)")
arguments.add_argument("--sticky")
arguments.add_argument("--settle", type=float, default=0.0)
arguments.add_argument("--short-slice", action="store_true",
                       help="read the answers in 0.1 ms time slices, as --only million and minidcache's shell do")
options = arguments.parse_args()


def run_in_short_slices():
    """What minidcache's priority::run_in_short_slices does, for this thread: a 0.1 ms slice
    (Linux 6.12 and later), the nice value kept, the default again for the processes it starts
    (SCHED_FLAG_RESET_ON_FORK, so minidcache itself is not affected)."""
    import ctypes
    import os
    import platform
    import struct
    number = {"x86_64": 314, "aarch64": 274}.get(platform.machine())
    if number is None:
        sys.exit(f"--short-slice: no sched_setattr number known for {platform.machine()}")
    # struct sched_attr, version 0: size, policy (SCHED_OTHER), flags (RESET_ON_FORK), nice,
    # priority, runtime (the slice, ns), deadline, period.
    attr = ctypes.create_string_buffer(struct.pack("IIQiIQQQ", 48, 0, 1, os.getpriority(os.PRIO_PROCESS, 0), 0, 100_000, 0, 0), 48)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, attr, 0) != 0:
        sys.exit(f"--short-slice: sched_setattr: {os.strerror(ctypes.get_errno())}")


if options.short_slice:
    run_in_short_slices()

shutil.rmtree(options.root, ignore_errors=True)
shell = subprocess.Popen(
    [options.binary, "--home", f"{options.root}/home", "--pools", "pool1,pool2", "--capacity", str(64 << 30)],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def send(line):
    shell.stdin.write(line + "\n")
    shell.stdin.flush()


def until_echo(command):
    """The output before the echo of `command`."""
    text = []
    for line in shell.stdout:
        if line.rstrip("\n").endswith("> " + command):
            return "".join(text)
        text.append(line)
    sys.exit(f"minidcache ended before `{command}`")


def timed(command):
    """Runs `command` and returns its output and how long it took: the answer ends where the
    echo of the next command begins (as `--only million` reads it)."""
    asked = time.monotonic()
    send(command)
    send(INFO)
    until_echo(command)
    output = until_echo(INFO)
    return output, time.monotonic() - asked


INFO = "migration info 1"
send("\\c pool1")
sticky = f" -sticky={options.sticky}" if options.sticky else ""
send(f"populate -files={options.files} -size={options.size} -state={options.state}{sticky}")
send("\\l")
until_echo("\\l")
time.sleep(options.settle)
with open(f"/proc/{shell.pid}/status") as status:
    resident = next(line.split(":", 1)[1].strip() for line in status if line.startswith("VmRSS"))
send(options.job)
send("\\l")
until_echo("\\l")
answers = []  # (milliseconds, seconds into the job, state)
first = None  # the probe's first answer, printed so that a refused command shows
start = time.monotonic()
while time.monotonic() - start < options.seconds:
    at = time.monotonic() - start
    output, took = timed(options.probe)
    first = output if first is None else first
    info = output if options.probe == INFO else timed(INFO)[0]
    state = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("State")), "?")
    answers.append((took * 1e3, at, state))
    if state in ("FINISHED", "CANCELLED", "FAILED"):
        break  # the job is over (a SLEEPING or SUSPENDED one is not): nothing more to wait for
    time.sleep(0.02)
send("migration cancel -force 1")
send("\\q")
send("\\q")
shell.stdin.close()
shell.wait()
shutil.rmtree(options.root, ignore_errors=True)
print(f"minidcache's VmRSS after populating {options.files} {options.state} replicas: {resident}")
print(f"`{options.probe}` after `{options.job}` on {options.files} replicas; its first answer:")
print("".join(f"  | {line}\n" for line in (first or "").splitlines()[:3]), end="")
for took, at, state in sorted(answers, reverse=True)[:5]:
    print(f"{took:6.1f} ms at {at:5.2f} s, {state}")
if answers:
    times = sorted(a[0] for a in answers)
    print(f"median {times[len(times) // 2]:.2f} ms of {len(times)} answers, "
          f"99th percentile {times[len(times) * 99 // 100]:.2f} ms, 99.9th {times[len(times) * 999 // 1000]:.2f} ms, "
          f"over 5 ms: {sum(t > 5 for t in times)}, over 8 ms: {sum(t > 8 for t in times)}")
