"""Build the SWIG extension netqueue._nqswig against libnetqueue.

Where the library is, in this order:
  NETQUEUE_INCLUDE_DIR / NETQUEUE_LIB_DIR (environment), else
  `pkg-config netqueue` when it answers, else
  the repository's abi/ and build/src (a plain `cmake -B build` tree).
The extension gets an rpath to the library directory, so `import netqueue`
needs no LD_LIBRARY_PATH.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
INTERFACE = REPO / "bindings" / "swig" / "netqueue.i"


def _pkg_config(flag):
    if not shutil.which("pkg-config"):
        return None
    r = subprocess.run(["pkg-config", flag, "netqueue"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [t[2:] for t in r.stdout.split() if t[:2] in ("-I", "-L")]


def _dirs():
    inc = os.environ.get("NETQUEUE_INCLUDE_DIR")
    lib = os.environ.get("NETQUEUE_LIB_DIR")
    if not inc:
        inc = (_pkg_config("--cflags-only-I") or [None])[0] or str(REPO / "abi")
    if not lib:
        lib = (_pkg_config("--libs-only-L") or [None])[0] or str(REPO / "build" / "src")
    return inc, lib


class SwigBuildExt(build_ext):
    """Run swig ourselves: the interface lives outside the package, and the
    generated nqswig.py must land beside the extension in the build tree."""

    def build_extension(self, ext):
        if ext.name != "netqueue._nqswig":
            return super().build_extension(ext)
        inc, _ = _dirs()
        tmp = Path(self.build_temp)
        tmp.mkdir(parents=True, exist_ok=True)
        outdir = Path(self.get_ext_fullpath(ext.name)).parent
        outdir.mkdir(parents=True, exist_ok=True)
        wrap = tmp / "nqswig_wrap.c"
        subprocess.run(["swig", "-python", "-threads", "-I" + inc, "-outdir", str(outdir),
                        "-o", str(wrap), str(INTERFACE)], check=True)
        ext.sources = [str(wrap)]
        super().build_extension(ext)


inc, lib = _dirs()
setup(
    ext_modules=[Extension(
        "netqueue._nqswig",
        sources=["nqswig_wrap.c"],  # generated from INTERFACE by SwigBuildExt
        include_dirs=[inc],
        library_dirs=[lib],
        runtime_library_dirs=[lib],
        libraries=["netqueue"],
    ), Extension(
        # the per-put path, hand-written (see its header)
        "netqueue._fastput",
        sources=["netqueue/_fastput.c"],
        include_dirs=[inc],
        library_dirs=[lib],
        runtime_library_dirs=[lib],
        libraries=["netqueue"],
    )],
    cmdclass={"build_ext": SwigBuildExt},
)
