# SPDX-License-Identifier: MIT
# Known-answer check of the MicroPython module `vwcrypto` (user C module or natmod).
# Runs IN MicroPython (also in CPython, against any module with powmod/powmod2).
#
# Vector lines (crypto_c/vectors/modexp.txt, lowercase hex, '#' comments):
#     powmod  <base> <exp> <mod> <result>
#     powmod2 <g> <a> <h> <b> <mod> <result>
#
# With a filesystem:     micropython tests/crypto/mp_vectors.py [vectors.txt]
# Without one (QEMU):    on the host (CPython), split it into small scripts with the vectors
#                        embedded, then run them in order in ONE session:
#                            mkdir -p /tmp/kat
#                            python3 tests/crypto/mp_vectors.py --embed /tmp/kat [vectors.txt]
#                            mpremote connect /dev/pts/N $(for f in /tmp/kat/*.py; do echo run $f; done)
#                        (or call embed() from Python: a list of script texts). One 87 KB
#                        script does not fit: the device compiles each script whole.
# Every run()/check_errors() call adds to the totals; summary() prints the line
#     vwcrypto: N passed, N failed
# that callers grep for, and returns the failure count.

_totals = [0, 0]  # passed, failed
_MAX_REPORTS = 10  # print at most this many failures in detail


def _module(mod):
    if mod is None:
        import vwcrypto as mod
    return mod


def _fail(msg):
    _totals[1] += 1
    if _totals[1] <= _MAX_REPORTS:
        print("FAIL", msg)


def run(lines, mod=None):
    """Check every vector line in `lines` (an iterable of str); return (passed, failed)."""
    mod = _module(mod)
    p0, f0 = _totals[0], _totals[1]
    for line in lines:
        line = line.strip()
        if not line or line[0] == "#":
            continue
        parts = line.split()
        kind = parts[0]
        try:
            nums = [int(x, 16) for x in parts[1:]]
            if kind == "powmod" and len(nums) == 4:
                got = mod.powmod(nums[0], nums[1], nums[2])
            elif kind == "powmod2" and len(nums) == 6:
                got = mod.powmod2(nums[0], nums[1], nums[2], nums[3], nums[4])
            else:
                _fail("bad vector line: " + line[:60])
                continue
        except Exception as e:
            _fail("%s raised %s: %s" % (line[:60], type(e).__name__, e))
            continue
        if got == nums[-1]:
            _totals[0] += 1
        else:
            _fail("%s ... got %x" % (line[:60], got))
    return _totals[0] - p0, _totals[1] - f0


def run_file(path, mod=None):
    """Check the vectors in a file, line by line (no need to hold the whole file)."""
    with open(path) as f:
        return run(f, mod)


# (function, args, exception type name, message): the same texts in every build
ERROR_CASES = (
    ("powmod", (2, 3, 0), "ValueError", "modulus must be positive"),
    ("powmod", (2, 3, -7), "ValueError", "modulus must be positive"),
    ("powmod", (2, 3, 8), "ValueError", "modulus must be odd"),
    ("powmod", (2, 3, (1 << 4096) + 1), "ValueError", "modulus larger than 4096 bits"),
    ("powmod", (2, -1, 7), "ValueError", "exponent must be non-negative"),
    ("powmod", (2, 1 << 4096, 7), "ValueError", "exponent larger than 4096 bits"),
    ("powmod2", (2, 3, 5, -1, 7), "ValueError", "exponent must be non-negative"),
    ("powmod2", (2, 1 << 4096, 5, 1, 7), "ValueError", "exponent larger than 4096 bits"),
    ("powmod2", (2, 3, 5, 1, 10), "ValueError", "modulus must be odd"),
    ("powmod", ("2", 3, 7), "TypeError", "base must be an int, not str"),
    ("powmod", (2, 3.0, 7), "TypeError", "exponent must be an int, not float"),
    ("powmod", (2, 3, None), "TypeError", "modulus must be an int, not NoneType"),
    ("powmod2", (2, 3, b"5", 1, 7), "TypeError", "base must be an int, not bytes"),
)


def check_errors(mod=None):
    """Check the exception type and message for each bad input; return (passed, failed)."""
    mod = _module(mod)
    p0, f0 = _totals[0], _totals[1]
    for fname, args, etype, msg in ERROR_CASES:
        try:
            r = getattr(mod, fname)(*args)
        except Exception as e:
            if type(e).__name__ == etype and str(e) == msg:
                _totals[0] += 1
            else:
                _fail("%s%r: %s(%r), expected %s(%r)" % (fname, args[:2], type(e).__name__, str(e), etype, msg))
            continue
        _fail("%s%r returned %r, expected %s" % (fname, args[:2], r, etype))
    return _totals[0] - p0, _totals[1] - f0


def summary():
    """Print the totals line and return the number of failures."""
    print("vwcrypto: %d passed, %d failed" % (_totals[0], _totals[1]))
    return _totals[1]


def embed(vectors_text, chunk_bytes=6000, source=None):
    """(Host side) split a run for a target without a filesystem into scripts to execute
    one after another in ONE interpreter session (e.g. `mpremote connect PORT run a.py
    run b.py ...`: chained mpremote commands keep the globals). Returns a list of script
    texts: this file's definitions, then run(<vectors as one string>.split()) chunks of about
    chunk_bytes each (the device compiles one chunk at a time: a 4096-bit vector line is
    about 5 KB), then check_errors() and summary().
    `source`: the text of this file (read from __file__ if None)."""
    if source is None:
        with open(__file__) as f:
            source = f.read()
    scripts = [source.split(_ENTRY_MARK)[0]]
    cur, size = [], 0
    for line in vectors_text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if cur and size + len(line) > chunk_bytes:
            scripts.append('run("""%s""".split("\\n"))\n' % "\n".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += len(line) + 1
    if cur:
        scripts.append('run("""%s""".split("\\n"))\n' % "\n".join(cur))
    scripts.append("check_errors()\nsummary()\n")
    return scripts


def loader_script(mpy, name="vwcrypto"):
    """(Host side) a script that imports the native module `name` from the .mpy bytes
    `mpy` on a target without a filesystem: it mounts a one-file read-only VFS object kept
    in RAM (the trick of MicroPython's tests/run-natmodtests.py) and imports from it.
    Run it first in the session, then the embed() scripts."""
    return """import sys, io, vfs
__buf = %r
class __File(io.IOBase):
    def __init__(self):
        self.off = 0
    def ioctl(self, request, arg):
        return 0 if request == 4 else -1  # MP_STREAM_CLOSE
    def readinto(self, buf):
        n = min(len(buf), len(__buf) - self.off)
        buf[:n] = memoryview(__buf)[self.off:self.off + n]
        self.off += n
        return n
class __FS:
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, path):
        pass
    def stat(self, path):
        if path == "/%s.mpy":
            return tuple(0 for _ in range(10))
        raise OSError(2)  # ENOENT
    def open(self, path, mode):
        return __File()
vfs.mount(__FS(), "/__natmod")
sys.path.insert(0, "/__natmod")
import %s
sys.path.pop(0)
vfs.umount("/__natmod")
print("loaded", %s.__name__, %s.__version__, "LIMB_BITS", %s.LIMB_BITS)
""" % (bytes(mpy), name, name, name, name, name)


def main(path="crypto_c/vectors/modexp.txt"):
    import sys

    args = sys.argv[1:]
    if args and args[0] == "--embed":
        # --embed OUTDIR [vectors.txt]: write OUTDIR/NNN.py and print their paths in order
        outdir = args[1]
        with open(args[2] if len(args) > 2 else path) as f:
            scripts = embed(f.read())
        for i, text in enumerate(scripts):
            name = "%s/%03d.py" % (outdir, i)
            with open(name, "w") as f:
                f.write(text)
            print(name)
        return 0
    if args and args[0] == "--loader":
        # --loader MPY OUT.py: a script that imports vwcrypto from MPY without a filesystem
        with open(args[1], "rb") as f:
            text = loader_script(f.read())
        with open(args[2], "w") as f:
            f.write(text)
        return 0
    if args:
        path = args[0]
    run_file(path)
    check_errors()
    return summary()


_ENTRY_MARK = "# --- entry point" + " ---"
# --- entry point ---
if __name__ == "__main__":
    main()
