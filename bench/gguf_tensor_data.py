#!/usr/bin/env python3
"""Prints, for each GGUF file, one SHA-256 over its tensors' bytes taken in name order, and their
total size, so that two writers' files can be compared without their metadata or tensor order:
modelpress and llama-quantize record different provenance strings and order tensors differently.
Usage: bench/gguf_tensor_data.py FILE.gguf...   (plain Python, no numpy)"""
import hashlib
import struct
import sys

# ggml types: (values per block, bytes per block); others are read up to the next tensor's offset.
BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
          11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292), 30: (1, 2)}
# Sizes of GGUF's fixed-width value types (gguf.md: uint8 .. float64; 8 = string, 9 = array).
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def tensor_layout(f):
    """(data section start, [(name, offset in the section, bytes or None)])."""
    magic, version, n_tensors, n_kv = struct.unpack("<4sIQQ", f.read(24))
    if magic != b"GGUF" or version < 2:
        raise ValueError("not a GGUF v2+ file")
    alignment = 32

    def string():
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n)

    def skip_value(kind):
        if kind == 8:
            string()
        elif kind == 9:
            item, count = struct.unpack("<IQ", f.read(12))
            for _ in range(count):
                skip_value(item)
        else:
            f.seek(FIXED[kind], 1)

    for _ in range(n_kv):
        key = string()
        (kind,) = struct.unpack("<I", f.read(4))
        if key == b"general.alignment" and kind == 4:
            (alignment,) = struct.unpack("<I", f.read(4))
        else:
            skip_value(kind)
    tensors = []
    for _ in range(n_tensors):
        name = string()
        (dims,) = struct.unpack("<I", f.read(4))
        shape = struct.unpack(f"<{dims}Q", f.read(8 * dims))
        kind, offset = struct.unpack("<IQ", f.read(12))
        count = 1
        for d in shape:
            count *= d
        block = BLOCKS.get(kind)
        tensors.append((name, offset, count // block[0] * block[1] if block else None))
    return (f.tell() + alignment - 1) // alignment * alignment, tensors


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        start, tensors = tensor_layout(f)
        f.seek(0, 2)
        end = f.tell() - start
        ends = sorted(o for _, o, _ in tensors)[1:] + [end]
        next_offset = dict(zip(sorted(o for _, o, _ in tensors), ends))
        digest, size = hashlib.sha256(), 0
        for name, offset, nbytes in sorted(tensors):
            f.seek(start + offset)
            data = f.read(nbytes if nbytes is not None else next_offset[offset] - offset)
            digest.update(name + data)
            size += len(data)
    print(f"{digest.hexdigest()} {size} {path}")
