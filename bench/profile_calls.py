#!/usr/bin/env python3
"""What a driver's calls into uwsk cost, from a callgrind profile.

Reads `callgrind_annotate --inclusive=yes --tree=calling` on standard input and prints, per
operation, every function of libuwsk that code in a driver's object calls: instructions per
operation, calls per operation and instructions per call, the costliest first (calls that
come to less than one instruction per operation, such as a connection's set-up, are left out).
The costs are inclusive: a call that completed an IRP at once also counts the completion
routine it ran and whatever that routine called (a WskSend that completes inline holds the
driver's send completion), so the lines can overlap and need not add up.

  bench/profile_calls.py OPERATIONS [DRIVER_OBJECT_PART] < annotate-output

DRIVER_OBJECT_PART (default "/drivers/") is what a driver object's path contains; the callees
counted are those whose object's path contains "libuwsk".
"""
import re
import sys
from collections import defaultdict

# "<Ir> (<pct>%)  *  <file>:<function> [<object>]" opens a function's block;
# "<Ir> (<pct>%)  >   <file>:<function> (<n>x) [<object>]" is one of its callees.
# With debugging information the opening line may lack the object; it is then taken from another
# line naming the same function.
LINE = re.compile(
    r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+([*>])\s+(.*?)"  # cost, kind, file:function
    r"(?:\s+\((\d[\d,]*)x\))?(?:\s+\[([^\[\]]*)\])?\s*$")  # (calls) [object]


def short_name(location):
    """'file:ns::fn(args) [clone ...]' -> 'fn'; a C name stays as it is."""
    name = location.split(":", 1)[1] if ":" in location else location  # file paths have no ':'
    name = re.sub(r"\s*\[clone [^\]]*\]", "", name).replace("(anonymous namespace)::", "")
    name = name.split("(", 1)[0]  # the argument list, which may hold '::' of its own
    return name.rsplit("::", 1)[-1]


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: profile_calls.py OPERATIONS [DRIVER_OBJECT_PART] < annotate-output")
    operations = float(sys.argv[1])
    driver_part = sys.argv[2] if len(sys.argv) > 2 else "/drivers/"
    if operations <= 0:
        sys.exit("profile_calls: no operations")
    lines = [m.groups() for m in map(LINE.match, sys.stdin) if m]
    object_of = {}
    for _, _, location, _, obj in lines:
        if obj:
            object_of.setdefault(short_name(location), obj)
    cost = defaultdict(int)
    calls = defaultdict(int)
    in_driver = False
    for ir, kind, location, count, obj in lines:
        obj = obj or object_of.get(short_name(location), "")
        if kind == "*":
            in_driver = driver_part in obj
            continue
        if in_driver and "libuwsk" in obj:
            name = short_name(location)
            cost[name] += int(ir.replace(",", ""))
            calls[name] += int((count or "0").replace(",", ""))
    if not cost:
        sys.exit("profile_calls: no call from a driver object into libuwsk in the profile")
    print("instr/op  calls/op  instr/call  function")
    for name in sorted(cost, key=lambda n: -cost[n]):
        if cost[name] < operations:
            continue  # under one instruction per operation: connection set-up and the like
        per_call = cost[name] / calls[name] if calls[name] else 0
        print(f"{cost[name] / operations:8.0f}  {calls[name] / operations:8.2f}  "
              f"{per_call:10.0f}  {name}")


if __name__ == "__main__":
    main()
