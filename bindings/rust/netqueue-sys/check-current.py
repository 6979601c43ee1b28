#!/usr/bin/env python3
"""Fails when src/bindings.rs (made by regen.sh with bindgen, which the build
does not run) lacks a function the ABI headers declare, or declares one they
no longer have: the 1.3 functions went missing from it unnoticed once.
usage: check-current.py ABI_DIR BINDINGS_RS"""
import glob
import os
import re
import sys

abi_dir, rs = sys.argv[1], sys.argv[2]
declared = set()
for header in glob.glob(os.path.join(abi_dir, "netqueue", "*.h")):
    with open(header) as f:
        declared |= set(re.findall(r"NQ_API\s+[^;{]*?\b(nq_[a-z0-9_]+)\s*\(", f.read(), re.S))
with open(rs) as f:
    bound = set(re.findall(r"pub fn (nq_[a-z0-9_]+)", f.read()))
missing, stale = sorted(declared - bound), sorted(bound - declared)
if not declared:
    sys.exit(f"check-current: no NQ_API functions found under {abi_dir}")
if missing or stale:
    print(f"{rs} is out of date with {abi_dir}: run bindings/rust/netqueue-sys/regen.sh")
    for name in missing:
        print(f"  missing: {name}")
    for name in stale:
        print(f"  not in the headers: {name}")
    sys.exit(1)
print(f"check-current: {len(bound)} functions, as the headers declare")
