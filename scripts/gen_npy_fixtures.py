#!/usr/bin/env python3
"""Writes the tensor-reader fixtures into test/fixtures/npy/ (or the directory given).

Valid files are written by real numpy (np.lib.format.write_array, np.savez, np.savez_compressed),
so the TypeScript readers are tested against what numpy actually produces; safetensors files and
deliberately broken files are assembled byte by byte. manifest.json records, for every valid file,
its dtype, shape, order, byte order, format version and expected values as a flat C-order list
(int64/uint64 values and nan/inf as strings, so JSON never rounds them), and for every broken file
the TensorReadError kind a reader must raise.

Deterministic: the same numpy/zlib produce the same bytes on every run (no timestamps: np.savez
stamps members 1980-01-01, and the hand-written zips do the same).

Usage: python3 scripts/gen_npy_fixtures.py [outdir]     (default test/fixtures/npy)
"""
import io
import json
import math
import os
import shutil
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("test", "fixtures", "npy")

OUR_DTYPE = {
    "f2": "float16", "f4": "float32", "f8": "float64",
    "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
    "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
    "b1": "bool",
}

# 12 values per dtype for the (3, 4) matrix files, chosen to hit the edges of each type.
F16_VALUES = [0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 2.0**-24, 2.0**-14 - 2.0**-24,
              2.0**-14, 0.1, math.nan, math.inf]
F32_VALUES = [0.0, -0.0, 1.0, -1.5, 3.4028234663852886e38, 2.0**-149, 2.0**-126, 0.1,
              math.nan, math.inf, -math.inf, 16777217.0]
F64_VALUES = [0.0, -0.0, 1.0, -1.5, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308,
              0.1, math.nan, math.inf, -math.inf, 9007199254740993.0]
INT_VALUES = {
    "i1": [-128, 127, 0, -1, 1, 42, -42, 100, -100, 7, -7, 64],
    "i2": [-32768, 32767, 0, -1, 1, 256, -256, 1000, -1000, 255, -255, 12345],
    "i4": [-2**31, 2**31 - 1, 0, -1, 1, 65536, -65536, 123456789, -123456789, 2**24 + 1, 255, -2],
    "i8": [-2**63, 2**63 - 1, 2**53 + 1, -(2**53 + 1), 0, -1, 1, 2**62, 12345678901234567,
           -98765432109876543, 2**32, 2**31],
    "u1": [0, 255, 1, 128, 127, 42, 200, 17, 99, 254, 3, 64],
    "u2": [0, 65535, 1, 32768, 32767, 256, 255, 1000, 40000, 12345, 2, 65534],
    "u4": [0, 2**32 - 1, 1, 2**31, 2**31 - 1, 65536, 123456789, 3000000000, 2**24 + 1, 255, 7, 2**32 - 2],
    "u8": [0, 2**64 - 1, 2**53 + 1, 2**63, 2**63 - 1, 1, 12345678901234567, 2**32, 2**40 + 3,
           18000000000000000000, 255, 2**64 - 2],
    "b1": [True, False, True, True, False, False, True, False, True, False, False, True],
}


def values_for(code):
    if code == "f2":
        return F16_VALUES
    if code == "f4":
        return F32_VALUES
    if code == "f8":
        return F64_VALUES
    return INT_VALUES[code]


def expected_values(a):
    """Flat C-order list as JSON-safe values (strings where JSON numbers would lose information)."""
    out = []
    kind = a.dtype.kind
    for v in np.ascontiguousarray(a).reshape(-1).tolist():
        if kind == "f":
            if math.isnan(v):
                out.append("nan")
            elif math.isinf(v):
                out.append("inf" if v > 0 else "-inf")
            else:
                out.append(v)  # repr of a double round-trips exactly through JSON
        elif kind == "b":
            out.append(1 if v else 0)
        elif a.dtype.itemsize == 8:
            out.append(str(int(v)))
        else:
            out.append(int(v))
    return out


def endian_name(a):
    if a.dtype.itemsize == 1:
        return "none"
    return "big" if a.dtype.byteorder == ">" else "little"


manifest = {"npy": [], "npz": [], "safetensors": [], "broken": []}


def path(name):
    return os.path.join(OUT, name)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def npy_bytes(a, version=(1, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, version=version, allow_pickle=False)
    return buf.getvalue()


def order_of(a):
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def add_npy(name, a, version=(1, 0), note=None):
    write_bytes(name, npy_bytes(a, version))
    back = np.load(path(name))  # numpy must read back exactly what we claim
    assert back.dtype == a.dtype and back.shape == a.shape, name
    entry = {
        "file": name,
        "dtype": OUR_DTYPE[a.dtype.str[1:]],
        "descr": a.dtype.str,
        "shape": list(a.shape),
        "order": order_of(a),
        "endian": endian_name(a),
        "version": list(version),
        "values": expected_values(a),
    }
    if note:
        entry["note"] = note
    manifest["npy"].append(entry)


def add_raw_npy(name, raw, expect, note, descr=None):
    """A hand-assembled .npy (odd but valid header); numpy must load it to the expected array."""
    write_bytes(name, raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns about Python-2 style headers
        back = np.load(path(name))
    assert back.dtype == expect.dtype and back.shape == expect.shape, name
    assert np.array_equal(back, expect, equal_nan=expect.dtype.kind == "f"), name
    manifest["npy"].append({
        "file": name,
        "dtype": OUR_DTYPE[expect.dtype.str[1:]],
        "descr": descr or expect.dtype.str,
        "shape": list(expect.shape),
        "order": "C",
        "endian": endian_name(expect),
        "version": [raw[6], raw[7]],
        "values": expected_values(expect),
        "note": note,
    })


def raw_npy(header_text, data, version=1, pad_to=64):
    """Preamble + header text padded with spaces and '\\n' so the data starts at a multiple of pad_to."""
    pre = 10 if version == 1 else 12
    body = header_text.encode("latin1" if version < 3 else "utf8")
    total = pre + len(body) + 1
    body += b" " * ((-total) % pad_to) + b"\n"
    fmt = "<H" if version == 1 else "<I"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(fmt, len(body)) + body + data


def broken(name, data, kind, fmt="npy", key=None, stage="header", why=""):
    """stage 'header': listing headers fails too; 'data': headers list fine, reading the data fails."""
    if data is not None:
        write_bytes(name, data)
    e = {"file": name, "format": fmt, "kind": kind, "stage": stage, "why": why}
    if key is not None:
        e["key"] = key
    manifest["broken"].append(e)


# ------------------------------------------------------------------------------------------------
# Valid .npy: every dtype x byte order x C/Fortran x format version, on a (3, 4) matrix.

def gen_matrix():
    for code in OUR_DTYPE:
        base = np.array(values_for(code), dtype="<" + code if code not in ("i1", "u1", "b1") else "|" + code)
        base = base.reshape(3, 4)
        orders = ["<", ">"] if base.dtype.itemsize > 1 else ["|"]
        for bo in orders:
            a = base.astype(bo + code) if bo != "|" else base
            tag = {"<": "le", ">": "be", "|": "na"}[bo]
            for order in ("C", "F"):
                arr = np.ascontiguousarray(a) if order == "C" else np.asfortranarray(a)
                for v in (1, 2, 3):
                    add_npy(f"{code}_{tag}_{order.lower()}_v{v}.npy", arr, (v, 0))


def gen_shapes():
    add_npy("scalar_f8.npy", np.array(3.25, dtype="<f8"), note="0-d")
    add_npy("scalar_i8_be.npy", np.array(-2**60 - 3, dtype=">i8"), note="0-d big-endian int64")
    add_npy("scalar_bool.npy", np.array(True), note="0-d bool")
    add_npy("scalar_f2_be.npy", np.array(-0.0, dtype=">f2"), note="0-d half, negative zero")
    add_npy("empty_f4_0.npy", np.zeros((0,), dtype="<f4"), note="zero-size")
    add_npy("empty_i2_3x0x2.npy", np.zeros((3, 0, 2), dtype="<i2"), note="zero-size 3-d")
    add_npy("empty_u8_be_0x5.npy", np.zeros((0, 5), dtype=">u8"), note="zero-size big-endian")
    add_npy("vec_f4_len7.npy", np.arange(7, dtype="<f4") / 4 - 1, note="1-d")
    add_npy("vec_i8_be_len5.npy", np.array([2**53 + 1, -2**63, 2**63 - 1, -1, 2**53 + 3], dtype=">i8"),
            note="1-d big-endian int64 beyond 2^53")
    cube = np.arange(24).reshape(2, 3, 4)
    add_npy("cube_f4_2x3x4_c.npy", (cube * 0.5).astype("<f4"), note="3-d")
    add_npy("cube_f4_2x3x4_f.npy", np.asfortranarray((cube * 0.5).astype("<f4")), note="3-d Fortran")
    add_npy("cube_f8_be_4x3x2_f.npy", np.asfortranarray((cube.reshape(4, 3, 2) - 7.25).astype(">f8")),
            note="3-d Fortran big-endian (8-byte lanes)")
    add_npy("cube_i8_3x1x5_f.npy", np.asfortranarray((np.arange(15).reshape(3, 1, 5) * 2**50 - 2**55).astype("<i8")),
            note="Fortran with a length-1 axis")
    add_npy("cube_u1_2x3x4_f.npy", np.asfortranarray(cube.astype("|u1")), note="3-d Fortran bytes")
    add_npy("cube_f2_be_3x2x2_f.npy", np.asfortranarray((np.arange(12).reshape(3, 2, 2) / 3 - 2).astype(">f2")),
            note="3-d Fortran big-endian half")
    add_npy("hyper_i2_2x3x1x4_f.npy", np.asfortranarray((cube.reshape(2, 3, 1, 4) * 997 - 11000).astype("<i2")),
            note="4-d Fortran")
    big = (np.arange(33 * 2 * 34, dtype=np.int64) * 7919 % 65536).astype(">u2").reshape(33, 2, 34)
    add_npy("tiles_u2_be_33x2x34_f.npy", np.asfortranarray(big), note="Fortran larger than one 32x32 tile")
    add_npy("row_f4_1x6_f.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(1, 6)),
            note="Fortran flag but only one non-trivial axis")


def gen_specials():
    half_bits = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x3555,
                          0x7C00, 0xFC00, 0x7E00, 0x3C00, 0x3C01, 0x0200], dtype="<u2")
    halves = half_bits.view("<f2")
    add_npy("special_f2_le.npy", halves, note="half specials: +-0, subnormals, max, inf, nan")
    add_npy("special_f2_be.npy", halves.astype(">f2"), note="half specials, big-endian")
    f4 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0**-149, -(2.0**-149), 2.0**-126,
                   3.4028234663852886e38, 1.0 / 3.0], dtype="<f4")
    add_npy("special_f4_le.npy", f4)
    add_npy("special_f4_be.npy", f4.astype(">f4"))
    f8 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
                   1.7976931348623157e308, 1.0 / 3.0], dtype="<f8")
    add_npy("special_f8_le.npy", f8)
    add_npy("special_f8_be.npy", f8.astype(">f8"))


def gen_odd_but_valid():
    # np.save called twice on one handle (a pattern numpy documents): np.load returns the first.
    first = np.arange(6, dtype="<i4").reshape(2, 3)
    write_bytes("appended_two_arrays.npy", npy_bytes(first) + npy_bytes(np.arange(4, dtype="<f8")))
    back = np.load(path("appended_two_arrays.npy"))
    assert np.array_equal(back, first)
    manifest["npy"].append({
        "file": "appended_two_arrays.npy", "dtype": "int32", "descr": "<i4", "shape": [2, 3], "order": "C",
        "endian": "little", "version": [1, 0], "values": expected_values(first),
        "note": "a second .npy follows the data; np.load (and we) return the first array",
    })
    i4 = np.array([[1, -2, 3], [4, 5, -6]], dtype="<i4")
    add_raw_npy("py2_long_shape.npy",
                raw_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L), }", i4.tobytes()),
                i4, "Python 2 era header: ints with an L suffix")
    add_raw_npy("double_quoted_header.npy",
                raw_npy('{"descr":"<i4","shape":(2,3),"fortran_order":False}', i4.tobytes()),
                i4, "double quotes, no spaces, other key order")
    b = np.array([True, False, True], dtype="?")
    add_raw_npy("question_mark_bool.npy",
                raw_npy("{'descr': '?', 'fortran_order': False, 'shape': (3,), }", b.tobytes()),
                b, "bool spelled '?' without byte order", descr="?")
    f8 = np.array([1.5, -2.25, 1e300], dtype="<f8")
    # Header padded to 2 mod 8: the data is misaligned for float64 views (forces the copy path).
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    pad = next(p for p in range(1, 9) if (10 + len(hdr) + p + 1) % 8 == 2)
    body = hdr.encode() + b" " * pad + b"\n"
    raw = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body + f8.tobytes()
    add_raw_npy("misaligned_f8.npy", raw, f8, "data offset not a multiple of 8")


# ------------------------------------------------------------------------------------------------
# Broken .npy

def gen_broken_npy():
    good = npy_bytes(np.arange(12, dtype="<f8").reshape(3, 4))
    broken("bad_magic.npy", b"\x93NUMPX" + good[6:], "bad-magic", why="magic string altered")
    broken("not_npy_text.npy", b"hello, this is a text file, not an array\n", "bad-magic", why="plain text")
    broken("bad_version_4_0.npy", good[:6] + b"\x04\x00" + good[8:], "unsupported-format", why="format 4.0")
    broken("truncated_data.npy", good[:-5], "truncated", why="last 5 data bytes cut")
    broken("truncated_header.npy", good[:40], "truncated", why="cut inside the header")
    broken("truncated_preamble.npy", good[:7], "truncated", why="cut inside the preamble")
    broken("trailing_garbage.npy", good + b"junk!!!!", "size-mismatch", why="8 stray bytes after the data")
    broken("huge_shape_overflow.npy",
           raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000, 1000000000), }", b""),
           "too-large", why="element count beyond 2^53")
    broken("huge_shape_over_limit.npy",
           raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", b"\0" * 16),
           "too-large", why="40 GB declared, above maxArrayBytes")
    broken("huge_shape_tiny_file.npy",
           raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1000), }", b"\0" * 16),
           "truncated", why="8 MB declared, 16 bytes present")
    broken("huge_header_length.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFF00) + b"{}",
           "too-large", why="header length 4 GB")

    def saved(a, **kw):
        buf = io.BytesIO()
        np.save(buf, a, **kw)
        return buf.getvalue()

    broken("object_pickle.npy", saved(np.array([1, "a", None], dtype=object), allow_pickle=True),
           "unsupported-dtype", why="object array (pickle)")
    broken("structured.npy", saved(np.zeros(3, dtype=[("x", "<f4"), ("y", ">i2", (2,))])),
           "unsupported-dtype", why="structured dtype (descr is a list)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Stored array in format 3.0": exactly what we want here
        utf8 = saved(np.zeros(2, dtype=[("\u00e9\u6f22", "<f4")]))
    assert utf8[6] == 3, "numpy picks format 3.0 for non-latin1 field names"
    broken("structured_utf8_v3.npy", utf8, "unsupported-dtype", why="format 3.0, UTF-8 field name")
    broken("complex64.npy", saved(np.array([1 + 2j, 3 - 4j], dtype="<c8")), "unsupported-dtype", why="complex64")
    broken("complex128.npy", saved(np.array([1 + 2j], dtype="<c16")), "unsupported-dtype", why="complex128")
    broken("unicode_U5.npy", saved(np.array(["ab", "cde"], dtype="<U5")), "unsupported-dtype", why="unicode strings")
    broken("bytes_S3.npy", saved(np.array([b"ab", b"cde"], dtype="|S3")), "unsupported-dtype", why="byte strings")
    broken("datetime64.npy", saved(np.array(["2024-01-01"], dtype="datetime64[D]")), "unsupported-dtype", why="datetime64")
    broken("timedelta64.npy", saved(np.array([5], dtype="timedelta64[s]")), "unsupported-dtype", why="timedelta64")
    broken("void_V4.npy", saved(np.zeros(2, dtype="|V4")), "unsupported-dtype", why="raw void")
    broken("longdouble.npy", raw_npy("{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16),
           "unsupported-dtype", why="long double")
    broken("unknown_descr.npy", raw_npy("{'descr': '<q7', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8),
           "unsupported-dtype", why="unknown type code")

    bad_headers = {
        "unclosed": "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), ",
        "missing_key": "{'descr': '<f8', 'shape': (3, 4), }",
        "extra_key": "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), 'evil': 1, }",
        "duplicate_key": "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
        "negative_dim": "{'descr': '<f8', 'fortran_order': False, 'shape': (3, -4), }",
        "float_dim": "{'descr': '<f8', 'fortran_order': False, 'shape': (3.0, 4), }",
        "shape_list": "{'descr': '<f8', 'fortran_order': False, 'shape': [3, 4], }",
        "fortran_int": "{'descr': '<f8', 'fortran_order': 0, 'shape': (3, 4), }",
        "eval_injection": "{'descr': __import__('os').system('echo pwned'), 'fortran_order': False, 'shape': (3, 4), }",
        "not_a_dict": "['<f8', False, (3, 4)]",
        "garbage_after": "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } x",
        "descr_not_str": "{'descr': 8, 'fortran_order': False, 'shape': (3, 4), }",
    }
    for tag, text in bad_headers.items():
        broken(f"bad_header_{tag}.npy", raw_npy(text, good[128:]), "bad-header", why=text)
    r = raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", good[128:], version=3)
    i = r.index(b" \n")
    broken("bad_header_invalid_utf8_v3.npy", r[:i] + b"\xff" + r[i + 1:], "bad-header",
           why="format 3.0 header that is not UTF-8")


# ------------------------------------------------------------------------------------------------
# .npz

def member_entry(key, a):
    return {"key": key, "fileName": key + ".npy", "dtype": OUR_DTYPE[a.dtype.str[1:]], "shape": list(a.shape),
            "order": order_of(a), "endian": endian_name(a), "values": expected_values(a)}


def npz_arrays():
    return {
        "heatmap": (np.arange(2 * 3 * 4, dtype="<f4").reshape(2, 3, 4) / 8 - 1),
        "tags": np.array([[0, 5, 2**40], [-1, 2**53 + 1, -2**63]], dtype="<i8"),
        "mask": np.array([True, False, True, True], dtype="|b1"),
        "big_endian_f8": np.array([1.5, -0.0, np.inf, np.nan], dtype=">f8"),
        "fortran_i2": np.asfortranarray(np.arange(12, dtype="<i2").reshape(3, 4) - 6),
        "half": np.array([0.5, -2.0, 65504.0, 2.0**-24], dtype="<f2"),
        "scalar": np.array(7, dtype="<u4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "sub/dir/offsets": np.array([[0.25, -0.75]], dtype="<f4"),
    }


def add_npz(name, arrays, compress, positional=()):
    p = path(name)
    (np.savez_compressed if compress else np.savez)(p, *positional, **arrays)
    with np.load(p) as z:
        for k, a in arrays.items():
            assert np.array_equal(z[k], a, equal_nan=a.dtype.kind == "f"), (name, k)
    members = [member_entry(f"arr_{i}", a) for i, a in enumerate(positional)]
    members += [member_entry(k, a) for k, a in arrays.items()]
    manifest["npz"].append({"file": name, "compressed": compress, "members": members, "nonArrays": []})


def zip_local(name, data, method, crc, flags=0, zip64=False, csize=None):
    nb = name.encode()
    csize = len(data) if csize is None else csize
    if zip64:
        extra = struct.pack("<HHQQ", 1, 16, len(data), csize)
        sizes = (0xFFFFFFFF, 0xFFFFFFFF)
    else:
        extra = b""
        sizes = (csize, len(data))
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, method, 0, 0x21, crc,
                       sizes[0], sizes[1], len(nb), len(extra)) + nb + extra


def zip64_archive(members):
    """Every size and offset in ZIP64 form (central extra fields, ZIP64 end record and locator)."""
    out = bytearray()
    central = bytearray()
    for name, data in members:
        crc = zlib.crc32(data)
        off = len(out)
        out += zip_local(name, data, 0, crc, zip64=True) + data
        nb = name.encode()
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cextra
    cd_off = len(out)
    out += central
    z64 = len(out)
    n = len(members)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(out)


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors (sizes after the data)."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def find_all(data, sig):
    out, i = [], data.find(sig)
    while i >= 0:
        out.append(i)
        i = data.find(sig, i + 1)
    return out


def gen_npz():
    arrays = npz_arrays()
    add_npz("savez_basic.npz", arrays, False)
    add_npz("savez_compressed_basic.npz", arrays, True)
    add_npz("savez_positional.npz", {}, False, positional=(np.arange(3, dtype="<i4"), np.eye(2, dtype="<f8")))

    # A non-.npy member beside arrays: listed, flagged, never decoded.
    a = np.arange(4, dtype="<i2")
    with zipfile.ZipFile(path("mixed_members.npz"), "w") as z:
        z.writestr(zipfile.ZipInfo("values.npy", (1980, 1, 1, 0, 0, 0)), npy_bytes(a))
        z.writestr(zipfile.ZipInfo("README.txt", (1980, 1, 1, 0, 0, 0)), b"not an array\n")
    manifest["npz"].append({"file": "mixed_members.npz", "compressed": False,
                            "members": [member_entry("values", a)], "nonArrays": ["README.txt"]})

    # Full ZIP64 structures (np.savez only writes ZIP64 local extras for small files).
    z64 = {"x": np.array([1.0, 2.0, -3.5], dtype="<f4"), "y": np.arange(6, dtype="<u8").reshape(2, 3) * (2**61)}
    write_bytes("zip64_records.npz", zip64_archive([(k + ".npy", npy_bytes(v)) for k, v in z64.items()]))
    with zipfile.ZipFile(path("zip64_records.npz")) as z:
        assert z.testzip() is None
    with np.load(path("zip64_records.npz")) as z:
        assert all(np.array_equal(z[k], v) for k, v in z64.items())
    manifest["npz"].append({"file": "zip64_records.npz", "compressed": False,
                            "members": [member_entry(k, v) for k, v in z64.items()], "nonArrays": []})

    # Streamed (unseekable) write: local headers carry zeros, sizes follow the data.
    dd = {"p": np.array([[1, 2], [3, 4]], dtype="<i4"), "q": np.array([0.5], dtype="<f8")}
    for compress, name in ((False, "data_descriptor_stored.npz"), (True, "data_descriptor_deflated.npz")):
        s = Unseekable()
        (np.savez_compressed if compress else np.savez)(s, **dd)
        write_bytes(name, bytes(s.buf))
        with zipfile.ZipFile(path(name)) as z:
            assert z.testzip() is None
            assert all(i.flag_bits & 0x08 for i in z.infolist()), "expected data descriptors"
        with np.load(path(name)) as z:
            assert all(np.array_equal(z[k], v) for k, v in dd.items())
        manifest["npz"].append({"file": name, "compressed": compress,
                                "members": [member_entry(k, v) for k, v in dd.items()], "nonArrays": []})


def gen_broken_npz():
    base_path = path("savez_basic.npz")
    with open(base_path, "rb") as f:
        base = f.read()
    with open(path("savez_compressed_basic.npz"), "rb") as f:
        cbase = f.read()
    zi = zipfile.ZipFile(base_path).getinfo("heatmap.npy")

    # Flip one data byte of a stored member (the CRC fields stay as written).
    local_len = 30 + len("heatmap.npy") + 20  # np.savez writes a 20-byte ZIP64 local extra
    pos = zi.header_offset + local_len + zi.file_size - 1
    bad = bytearray(base)
    bad[pos] ^= 0x01
    broken("npz_bad_crc_stored.npz", bytes(bad), "corrupt", "npz", key="heatmap", stage="data",
           why="one data byte flipped")

    # Deflated: rewrite the CRC fields (local and central, so they agree) to a wrong value.
    bad = bytearray(cbase)
    czi = zipfile.ZipFile(path("savez_compressed_basic.npz")).getinfo("tags.npy")
    for off in [czi.header_offset + 14] + [p + 16 for p in find_all(cbase, b"PK\x01\x02")
                                             if cbase[p + 46:p + 46 + 8] == b"tags.npy"]:
        bad[off:off + 4] = struct.pack("<I", czi.CRC ^ 0xDEADBEEF)
    broken("npz_bad_crc_deflated.npz", bytes(bad), "corrupt", "npz", key="tags", stage="data",
           why="CRC fields do not match the inflated data")

    # Corrupt deflate stream (first compressed bytes replaced by an invalid block type).
    bad = bytearray(cbase)
    data_off = czi.header_offset + 30 + len("tags.npy") + 20
    bad[data_off] = 0xFF
    broken("npz_bad_deflate.npz", bytes(bad), "corrupt", "npz", key="tags", stage="header",
           why="deflate stream damaged at its start")

    broken("npz_truncated.npz", base[: len(base) // 2], "truncated", "npz", why="cut in half: no directory")
    broken("npz_not_zip.npz", b"this is not a zip archive at all" * 3, "bad-magic", "npz", why="text")

    with zipfile.ZipFile(path("npz_bzip2.npz"), "w", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr(zipfile.ZipInfo("a.npy", (1980, 1, 1, 0, 0, 0)), npy_bytes(np.arange(3)),
                   compress_type=zipfile.ZIP_BZIP2)
    broken("npz_bzip2.npz", None, "unsupported-format", "npz", why="bzip2 method 12")

    bad = bytearray(base)
    for p in find_all(base, b"PK\x03\x04"):
        bad[p + 6] |= 0x01
    for p in find_all(base, b"PK\x01\x02"):
        bad[p + 8] |= 0x01
    broken("npz_encrypted.npz", bytes(bad), "unsupported-format", "npz", why="encryption flag set")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate on purpose
        with zipfile.ZipFile(path("npz_duplicate_names.npz"), "w") as z:
            for v in (1, 2):
                z.writestr(zipfile.ZipInfo("a.npy", (1980, 1, 1, 0, 0, 0)), npy_bytes(np.full(2, v)))
    broken("npz_duplicate_names.npz", None, "bad-header", "npz", why="two members named a.npy")

    bad = bytearray(base)
    p = zi.header_offset + 30
    bad[p:p + 1] = b"X"  # local name 'Xeatmap.npy' vs central 'heatmap.npy'
    broken("npz_local_name_mismatch.npz", bytes(bad), "bad-header", "npz", key="heatmap", stage="header",
           why="local header name differs from the directory")

    bad = bytearray(base)
    for p in find_all(base, b"PK\x01\x02"):
        if base[p + 46:p + 46 + 11] == b"heatmap.npy":
            bad[p + 42:p + 46] = struct.pack("<I", 0x7FFFFFF0)
    broken("npz_bad_offset.npz", bytes(bad), "bad-header", "npz", why="member offset beyond the file")

    buf = io.BytesIO()
    np.savez(buf, ok=np.arange(3), obj=np.array([1, None], dtype=object))
    broken("npz_object_member.npz", buf.getvalue(), "unsupported-dtype", "npz", key="obj", stage="header",
           why="a pickled object member")


# ------------------------------------------------------------------------------------------------
# .safetensors (hand-assembled: header JSON + raw little-endian bytes)

def st_file(tensors, metadata=None, raw_header=None):
    """tensors: list of (key, code, shape, raw bytes). Header padded with spaces to 8 bytes."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for key, code, shape, raw in tensors:
        header[key] = {"dtype": code, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    hb = text.encode()
    hb += b" " * ((-len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb + data


def bf16_from_f32(values):
    """BF16 by truncating float32 bits (what a naive converter does); returns (raw bytes, exact values)."""
    bits = (np.asarray(values, dtype="<f4").view("<u4") >> 16).astype("<u2")
    exact = (bits.astype("<u4") << 16).view("<f4")
    return bits.tobytes(), exact


def gen_safetensors():
    tensors = []
    expect = []

    def add(key, code, a, raw=None, values_of=None):
        raw = a.tobytes() if raw is None else raw
        tensors.append((key, code, a.shape, raw))
        v = a if values_of is None else values_of
        expect.append({"key": key, "dtype": OUR_DTYPE[v.dtype.str[1:]] if code != "BF16" else "bfloat16",
                       "stored": code, "shape": list(a.shape), "values": expected_values(v)})

    f32 = np.array([[1.0, -2.5, 3.1415927], [np.nan, np.inf, -0.0]], dtype="<f4")
    raw, exact = bf16_from_f32([1.0, -2.5, 3.1415927, 1e30, -1e-30, np.nan, np.inf, -0.0, 65504.0, 0.1])
    add("weights.bf16", "BF16", exact.reshape(2, 5), raw=raw)
    add("weights.f16", "F16", np.array([0.5, -2.0, 65504.0, 2.0**-24, np.nan, -np.inf], dtype="<f2").reshape(3, 2))
    add("weights.f32", "F32", f32)
    add("weights.f64", "F64", np.array([1e300, -5e-324, 0.1], dtype="<f8"))
    add("ints.i8", "I8", np.array([-128, 127, 0], dtype="|i1"))
    add("ints.i16", "I16", np.array([-32768, 32767], dtype="<i2"))
    add("ints.i32", "I32", np.array([[-2**31], [2**31 - 1]], dtype="<i4"))
    add("ints.i64", "I64", np.array([-2**63, 2**63 - 1, 2**53 + 1], dtype="<i8"))
    add("uints.u8", "U8", np.array([0, 255], dtype="|u1"))
    add("uints.u16", "U16", np.array([65535], dtype="<u2"))
    add("uints.u32", "U32", np.array([2**32 - 1, 7], dtype="<u4"))
    add("uints.u64", "U64", np.array([2**64 - 1, 2**53 + 1], dtype="<u8"))
    add("mask", "BOOL", np.array([[True, False], [False, True]], dtype="|b1"))
    add("scalar", "F32", np.array(42.5, dtype="<f4"))
    add("empty", "F32", np.zeros((0, 3), dtype="<f4"))
    add("cube", "I16", (np.arange(24, dtype="<i2") - 12).reshape(2, 3, 4))
    write_bytes("basic.safetensors", st_file(tensors, metadata={"format": "pt", "note": "fixtures"}))
    manifest["safetensors"].append({"file": "basic.safetensors", "metadata": {"format": "pt", "note": "fixtures"},
                                    "tensors": expect})

    one = [("t", "F32", (2,), np.array([1, 2], dtype="<f4").tobytes())]
    ok = st_file(one)
    broken("st_bad_json.safetensors", st_file([], raw_header='{"t": {"dtype": "F32", "shape": [2],'),
           "bad-header", "safetensors", why="JSON cut short")
    broken("st_not_json_object.safetensors", st_file([], raw_header='{"t": 5}'), "bad-header", "safetensors",
           why="entry is not an object")
    broken("st_header_too_long.safetensors", struct.pack("<Q", 10**6) + ok[8:], "truncated", "safetensors",
           why="header length beyond the file")
    broken("st_header_length_huge.safetensors", struct.pack("<Q", 2**63 + 5) + ok[8:], "truncated", "safetensors",
           why="header length 2^63")
    broken("st_too_short.safetensors", b"\x05\x00\x00", "truncated", "safetensors", why="3 bytes")
    broken("st_not_safetensors.safetensors", struct.pack("<Q", 4) + b"abcd", "bad-magic", "safetensors",
           why="header does not start with '{'")
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})
    broken("st_overlap.safetensors", st_file([], raw_header=hdr) + b"\0" * 12, "bad-header", "safetensors",
           why="b overlaps a")
    hdr = json.dumps({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})
    broken("st_unsupported_dtype.safetensors", st_file([], raw_header=hdr) + b"\0\0", "unsupported-dtype",
           "safetensors", why="F8_E4M3")
    hdr = json.dumps({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})
    broken("st_complex.safetensors", st_file([], raw_header=hdr) + b"\0" * 8, "unsupported-dtype",
           "safetensors", why="C64")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})
    broken("st_size_mismatch.safetensors", st_file([], raw_header=hdr) + b"\0" * 8, "size-mismatch",
           "safetensors", why="3 floats in 8 bytes")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})
    broken("st_data_out_of_file.safetensors", st_file([], raw_header=hdr) + b"\0" * 8, "truncated",
           "safetensors", why="data ends beyond the file")
    hdr = json.dumps({"__metadata__": {"n": 1}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    broken("st_bad_metadata.safetensors", st_file([], raw_header=hdr) + b"\0" * 4, "bad-header",
           "safetensors", why="metadata value not a string")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})
    broken("st_negative_shape.safetensors", st_file([], raw_header=hdr) + b"\0" * 4, "bad-header",
           "safetensors", why="negative dimension")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    gen_matrix()
    gen_shapes()
    gen_specials()
    gen_odd_but_valid()
    gen_broken_npy()
    gen_npz()
    gen_broken_npz()
    gen_safetensors()
    manifest["generator"] = {"script": "scripts/gen_npy_fixtures.py", "numpy": np.__version__}
    with open(path("manifest.json"), "w") as f:
        # One line per file entry: readable diffs without one line per value.
        f.write("{\n")
        for i, (section, items) in enumerate(manifest.items()):
            sep = "," if i < len(manifest) - 1 else ""
            if not isinstance(items, list):
                f.write(f" {json.dumps(section)}: {json.dumps(items, allow_nan=False)}{sep}\n")
                continue
            f.write(f" {json.dumps(section)}: [\n")
            for j, item in enumerate(items):
                comma = "," if j < len(items) - 1 else ""
                f.write(f"  {json.dumps(item, allow_nan=False, separators=(',', ':'))}{comma}\n")
            f.write(f" ]{sep}\n")
        f.write("}\n")
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {OUT}")


if __name__ == "__main__":
    main()
