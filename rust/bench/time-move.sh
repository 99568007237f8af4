#!/bin/bash
# Times one `migration move` between two minidcache pools, as docs/performance.md's side-by-side
# comparisons of two builds were made: populate FILES files of SIZE bytes on pool1, let the
# file system settle, then time `migration move -concurrency=C pool2` until `wait 1` says the
# job is over, and the CPU time minidcache used meanwhile (user + system, from /proc/PID/stat),
# which tells a move that waits from one that computes. Run it alternately with two builds'
# binaries to compare them.
#
# usage: time-move.sh MINIDCACHE DIR FILES SIZE [CONCURRENCY]   (DIR is deleted and made anew)
set -euo pipefail
binary=$1 dir=$2 files=$3 size=$4 concurrency=${5:-4}
rm -rf "$dir" && mkdir -p "$dir/home"
fifo="$dir/in" out="$dir/out" replies="$dir/replies"
mkfifo "$fifo" "$replies"
: >"$out"
exec 3<>"$fifo" 4<>"$replies"
"$binary" --home "$dir/home" --pools pool1,pool2 --capacity $((64 << 30)) <"$fifo" >"$replies" 2>&1 &
pid=$!
# await TEXT: reads minidcache's replies into $out until a line holds TEXT, blocked until
# each line comes (polling the output for it took the cores the move needs). Fails if no line
# comes for an hour: this script holds the pipe open too, so a minidcache that died would
# otherwise leave it waiting for ever.
await() { local line; while read -r -t 3600 -u 4 line; do echo "$line" >>"$out"; [[ $line == *"$1"* ]] && return; done; return 1; }
printf '%s\n' '\c pool1' "populate -files=$files -size=$size" '\l' >&3
await '> \l'
sync && sleep 6
# utime + stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (the command name, field
# 2, has no spaces here).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
cpu0=$(cpu_ticks)
start=$(date +%s.%N)
printf '%s\n' "migration move -concurrency=$concurrency pool2" 'wait 1 -timeout=3600' >&3
await '> wait 1'
read -r -t 3600 -u 4 finished # the job's state once it is over: "[1] FINISHED ..."
end=$(date +%s.%N)
echo "$finished" >>"$out"
cpu1=$(cpu_ticks)
printf '%s\n' 'migration info 1' >&3
await 'Completed  : '
grep -E 'State|Completed' "$out"
awk -v a="$start" -v b="$end" -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "move: %.3f s, minidcache CPU %.2f s\n", b - a, t / hz }'
printf '%s\n' '\q' '\q' >&3
wait "$pid" || true
rm -rf "$dir"
