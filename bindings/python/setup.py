"""Build the extensions netqueue._nqswig (SWIG) and netqueue._fastput
against libnetqueue.

Where the library is, in this order:
  NETQUEUE_INCLUDE_DIR / NETQUEUE_LIB_DIR (environment), else
  `pkg-config netqueue` when it answers (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
  for an installed prefix), else
  in the repository, its abi/ and build/src (a plain `cmake -B build` tree).
The extensions get an rpath to the library directory, so `import netqueue`
needs no LD_LIBRARY_PATH; build-dist.sh makes from that a wheel that
carries the library itself (auditwheel repair).

The SWIG interface is netqueue/netqueue.i: in git a symlink to the one
bindings/swig/netqueue.i (shared with Java), a plain file in the sdist. The
sdist also carries what SWIG generated from it (netqueue/nqswig.py and
netqueue/nqswig_wrap.c), so building from the sdist needs no swig.

The version follows the C ABI: abi/netqueue/version.h in the repository,
the sdist's PKG-INFO (written from it) elsewhere.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
INTERFACE = HERE / "netqueue" / "netqueue.i"
PKG_INFO = HERE / "PKG-INFO"  # only in an sdist
REPO = HERE.parent.parent  # the repository, when built from it
IN_REPO = not PKG_INFO.exists() and (REPO / "abi" / "netqueue" / "version.h").exists()
# What SWIG generates, shipped in the sdist: (module, wrapper).
GENERATED = ("nqswig.py", "nqswig_wrap.c")


def _version():
    if IN_REPO:
        text = (REPO / "abi" / "netqueue" / "version.h").read_text()
        parts = [re.search(rf"#define NQ_ABI_VERSION_{p} (\d+)", text) for p in ("MAJOR", "MINOR", "PATCH")]
        if all(parts):
            return ".".join(m.group(1) for m in parts)
        sys.exit("netqueue: abi/netqueue/version.h has no NQ_ABI_VERSION_MAJOR/MINOR/PATCH")
    if PKG_INFO.exists():
        m = re.search(r"^Version: (\S+)$", PKG_INFO.read_text(), re.M)
        if m:
            return m.group(1)
    sys.exit("netqueue: no version: build from the repository (abi/netqueue/version.h) or an sdist (PKG-INFO)")


def _pkg_config(flag):
    """The -I or -L directories pkg-config gives for netqueue ([] for the
    system's own), or None when it does not know netqueue."""
    if not shutil.which("pkg-config"):
        return None
    r = subprocess.run(["pkg-config", flag, "netqueue"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [t[2:] for t in r.stdout.split() if t[:2] in ("-I", "-L")]


def _dirs():
    """(include dirs, library dirs) of libnetqueue; [] means the compiler's own."""
    inc = os.environ.get("NETQUEUE_INCLUDE_DIR")
    lib = os.environ.get("NETQUEUE_LIB_DIR")
    incs = [inc] if inc else _pkg_config("--cflags-only-I")
    libs = [lib] if lib else _pkg_config("--libs-only-L")
    if IN_REPO:
        incs = incs if incs is not None else [str(REPO / "abi")]
        libs = libs if libs is not None else [str(REPO / "build" / "src")]
    if incs is None or libs is None:
        print("netqueue: neither NETQUEUE_INCLUDE_DIR/NETQUEUE_LIB_DIR nor pkg-config know "
              "libnetqueue (set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig); trying the "
              "compiler's default paths", file=sys.stderr)
    return incs or [], libs or []


def _swig(outdir, wrapper):
    """Generate nqswig.py into outdir and the C wrapper from INTERFACE."""
    if not shutil.which("swig"):
        sys.exit("netqueue: swig is needed to build from the repository (Debian: apt-get install swig); "
                 "an sdist carries the generated wrapper instead")
    incs, _ = _dirs()
    # swig does not search the system include directories on its own
    flags = ["-I" + d for d in incs + ["/usr/local/include", "/usr/include"]]
    subprocess.run(["swig", "-python", "-threads", *flags, "-outdir", str(outdir),
                    "-o", str(wrapper), str(INTERFACE)], check=True)


class SwigBuildExt(build_ext):
    """Compile the wrapper the sdist carries, else run swig first: nqswig.py
    must land beside the extension in the build tree."""

    def build_extension(self, ext):
        if ext.name == "netqueue._nqswig" and not (HERE / "netqueue" / GENERATED[1]).exists():
            tmp = Path(self.build_temp)
            tmp.mkdir(parents=True, exist_ok=True)
            outdir = Path(self.get_ext_fullpath(ext.name)).parent
            outdir.mkdir(parents=True, exist_ok=True)
            wrapper = tmp / GENERATED[1]
            _swig(outdir, wrapper)
            ext.sources = [str(wrapper)]
        super().build_extension(ext)


class SdistWithWrapper(sdist):
    """Add what SWIG generates to the sdist (never to the source tree)."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        pkg = Path(base_dir) / "netqueue"
        if not all((pkg / g).exists() for g in GENERATED):  # already there when re-made from an sdist
            _swig(pkg, pkg / GENERATED[1])


incs, libs = _dirs()
common = dict(include_dirs=incs, library_dirs=libs, runtime_library_dirs=libs, libraries=["netqueue"])
setup(
    version=_version(),
    ext_modules=[
        # sources: the sdist's wrapper, or SwigBuildExt's from INTERFACE
        Extension("netqueue._nqswig", sources=["netqueue/" + GENERATED[1]], **common),
        # the per-put path and the per-message path of `async for`,
        # hand-written (see their headers)
        Extension("netqueue._fastput", sources=["netqueue/_fastput.c", "netqueue/_fastrecv.c"], **common),
    ],
    cmdclass={"build_ext": SwigBuildExt, "sdist": SdistWithWrapper},
)
