#!/usr/bin/env python3
"""Prints one line per tensor of safetensors files: name, dtype, shape and the SHA-256 of its bytes,
in name order, so that two runs' checkpoints can be compared without their metadata (the header's
provenance strings, command line and commit, differ between builds).
Usage: bench/safetensors_tensor_hashes.py FILE.safetensors|DIR...   (plain Python, no numpy)"""
import hashlib
import json
import os
import struct
import sys


def files(arguments):
    for path in arguments:
        if os.path.isdir(path):
            yield from sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".safetensors"))
        else:
            yield path


def main(arguments):
    if not arguments:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    for path in files(arguments):
        with open(path, "rb") as f:
            (header_bytes,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_bytes))
            start = 8 + header_bytes
            for name in sorted(k for k in header if k != "__metadata__"):
                entry = header[name]
                begin, end = entry["data_offsets"]
                f.seek(start + begin)
                digest = hashlib.sha256(f.read(end - begin)).hexdigest()
                shape = "x".join(str(d) for d in entry["shape"])
                print(f"{os.path.basename(path)} {name} {entry['dtype']} {shape} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
