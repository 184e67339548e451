#!/usr/bin/env python3
"""Writes per socket and per event-loop turn, from an strace of one process.

Record the main thread of a service under load (e.g. the scheduler while
bench/scheduler_bench.js runs), then read the trace:

  timeout 4 strace -qq -e trace=write,writev,epoll_wait,epoll_pwait -o TRACE -p PID
  python3 bench/write_turns.py TRACE

A turn is what happens between two epoll waits. For each file descriptor it
prints the writes and how many of them were a second or later write to that
descriptor in the same turn (writes that one writev per turn would save).
"""
import collections
import re
import sys

writes = collections.Counter()
extra = collections.Counter()
turn = collections.Counter()
turns = 0
with open(sys.argv[1]) as f:
    for line in f:
        if line.startswith("epoll"):
            turns += 1
            turn.clear()
            continue
        m = re.match(r"(?:write|writev)\((\d+),", line)
        if m:
            fd = int(m.group(1))
            writes[fd] += 1
            if turn[fd]:
                extra[fd] += 1
            turn[fd] += 1
print("turns=%d" % turns)
for fd, n in writes.most_common():
    print("fd=%d writes=%d same_turn_extra=%d" % (fd, n, extra[fd]))
