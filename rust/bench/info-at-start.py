#!/usr/bin/env python3
"""Times `migration info 1` every 20 ms during the first seconds of a `migration move`, where
`--only million` asks only four times a second: populate FILES files of 1 KiB on pool1, start
`migration move -concurrency=16 pool2` at once (as `--only million` does), and ask until
SECONDS have passed. Prints the slowest answers, each with when it was asked and the job's
state then, and the median. docs/performance.md's fourteenth round found the scan's stall with
it (34-44 ms answers while INITIALIZING, 2-6 ms after the fix).

usage: info-at-start.py MINIDCACHE DIR [FILES [SECONDS]]   (DIR is deleted and made anew)
"""
import shutil
import subprocess
import sys
import time

binary, root = sys.argv[1], sys.argv[2]
files = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
shutil.rmtree(root, ignore_errors=True)
shell = subprocess.Popen(
    [binary, "--home", f"{root}/home", "--pools", "pool1,pool2", "--capacity", str(64 << 30)],
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


send("\\c pool1")
send(f"populate -files={files} -size=1024")
send("\\l")
until_echo("\\l")
send("migration move -concurrency=16 pool2")
send("\\l")
until_echo("\\l")
INFO = "migration info 1"
answers = []  # (milliseconds, seconds into the move, state)
start = time.monotonic()
while time.monotonic() - start < seconds:
    asked = time.monotonic()
    # As `--only million` does: the answer ends where the echo of the same command begins.
    send(INFO)
    send(INFO)
    until_echo(INFO)
    info = until_echo(INFO)
    took = time.monotonic() - asked
    state = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("State")), "?")
    answers.append((took * 1e3, asked - start, state))
    time.sleep(0.02)
send("migration cancel -force 1")
send("\\q")
send("\\q")
shell.stdin.close()
shell.wait()
shutil.rmtree(root, ignore_errors=True)
for took, at, state in sorted(answers, reverse=True)[:5]:
    print(f"{took:6.1f} ms at {at:5.2f} s, {state}")
print(f"median {sorted(a[0] for a in answers)[len(answers) // 2]:.2f} ms of {len(answers)} answers")
