#!/usr/bin/env python3
"""Where the memory of idle connections goes: sums heaptrack's still-allocated bytes by allocation site
and by module (a reading aid for `scripts/bench.sh profile`, not a test).

  leak_sites.py STACKS --connections N [--baseline STACKS --baseline-connections M] [--top 25] [--root .]

STACKS is heaptrack_print's flame-graph file with cost type "leaked" (one line per backtrace, frames
root→leaf separated by ';', the bytes still allocated last), taken from a chatd that was killed while N
idle connections were open. Each backtrace is charged to its allocation site: the frame nearest the
allocator whose source file belongs to this package (Sources/) or to a package checkout
(.build/checkouts/), so an array grown inside NIO's ByteBuffer is charged to ByteBuffer, a Swift task's
async frame to the async function whose frame it is (a frame the compiler generated, when no frame of
a known file is on the stack). The module is the site's source directory. Prints bytes per module and
the top sites.

With --baseline (the same profile with M < N connections) each figure is the difference between the two
runs divided by N − M: what one more idle connection costs, without idle chatd's own allocations and the
one-time caches the first connections fill. Without it, bytes are divided by N and include those.

A Swift task's frames live in slabs of its task allocator, which the task keeps until it ends: an "async
frame" site is the call that made a long-lived per-connection task grow its allocator (during CONNECT,
say), not necessarily code that runs while the connection is idle.
"""
import argparse
import collections
import os
import re
import sys

FRAME_FILE = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*)\)$")


def module_map(root):
    """Source file basename → module (its Sources/<Module>/ directory), for this package and its checkouts."""
    modules = collections.defaultdict(list)
    bases = [os.path.join(root, "Sources")]
    checkouts = os.path.join(root, ".build", "checkouts")
    if os.path.isdir(checkouts):
        bases += [os.path.join(checkouts, name, "Sources") for name in sorted(os.listdir(checkouts))]
    for base in bases:
        if not os.path.isdir(base):
            continue
        for module in sorted(os.listdir(base)):
            for directory, _, files in os.walk(os.path.join(base, module)):
                for name in files:
                    if module not in modules[name]:
                        modules[name].append(module)
    # A basename in several modules (Pool.swift: GRDB and NIOPosix) is named by all of them.
    return {name: "|".join(found) for name, found in modules.items()}


RUNTIME = ("swift_", "swift::", "malloc", "calloc", "realloc", "operator new", "0x", "_dispatch", "__",
           "start_thread", "clone3")


def kind_of(frames):
    joined = ";".join(frames)
    if "StackAllocator" in joined or "swift_task_alloc" in joined:
        return "async frame"
    if "swift_task_create" in joined:
        return "task"
    return "heap"


def charge(path, modules):
    """(module, kind, site) → bytes still allocated, and the total."""
    by_site = collections.Counter()
    total = 0
    with open(path, errors="replace") as stacks:
        for line in stacks:
            stack, _, amount = line.rstrip("\n").rpartition(" ")
            if not amount.isdigit() or int(amount) == 0:
                continue
            size = int(amount)
            total += size
            frames = [f for f in stack.rstrip(";").split(";") if f]
            site, module = None, None
            for frame in reversed(frames):
                found = FRAME_FILE.match(frame)
                if found and found.group("file") in modules:
                    site, module = f"{found.group('name')} ({found.group('file')})", modules[found.group("file")]
                    break
            if site is None:
                generated = [f for f in reversed(frames) if not f.startswith(RUNTIME)]
                site = generated[0] if generated else "(runtime only)"
                module = "generated/unresolved"
            by_site[(module, kind_of(frames), site)] += size
    return by_site, total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--baseline")
    parser.add_argument("--baseline-connections", type=int, default=0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--root", default=".")
    args = parser.parse_args()
    modules = module_map(args.root)

    by_site, total = charge(args.stacks, modules)
    n = args.connections
    if args.baseline:
        base, base_total = charge(args.baseline, modules)
        by_site.subtract(base)
        total -= base_total
        n -= args.baseline_connections
    by_module = collections.Counter()
    for (module, kind, _), size in by_site.items():
        by_module[(module, kind)] += size
    n = max(n, 1)
    if args.baseline:
        print(f"still allocated with {args.connections} connections minus with {args.baseline_connections}: "
              f"{total:,} bytes = {total // n:,} bytes per connection")
    else:
        print(f"still allocated: {total:,} bytes = {total // n:,} bytes per connection over {args.connections} connections")
    print()
    print("by module and kind (kind: heap = malloc/objects, async frame = a suspended task's frame, task = task object)")
    print(f"{'bytes':>12} {'per conn':>9}  module / kind")
    for (module, kind), size in by_module.most_common(args.top):
        print(f"{size:>12,} {size // n:>9,}  {module} / {kind}")
    print()
    print("top allocation sites")
    print(f"{'bytes':>12} {'per conn':>9}  module / kind: site")
    for (module, kind, site), size in by_site.most_common(args.top):
        print(f"{size:>12,} {size // n:>9,}  {module} / {kind}: {site[:160]}")


if __name__ == "__main__":
    sys.exit(main())
