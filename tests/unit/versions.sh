#!/usr/bin/env bash
# Every version number in the tree follows abi/netqueue/version.h
# (docs/versioning.md): the CMake project (and so the Debian packages and
# the CMake package file), the shared library's SONAME, the Python package,
# the Java jar, both Rust crates (and Cargo.lock), the Go module path's
# major suffix, the man page's .TH, the newest released section of
# CHANGELOG.md and the newest node of abi/netqueue.map. Prints one line per check; fails if any
# disagrees, naming the file and both numbers.
#   versions.sh SOURCE_DIR [CMAKE_PROJECT_VERSION [LIBRARY]]
set -uo pipefail
src=${1:?usage: versions.sh SOURCE_DIR [CMAKE_PROJECT_VERSION [LIBRARY]]}
cmake_version=${2:-}
library=${3:-}
cd "$src" || exit 1

failures=0
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
# same WHAT FOUND: compare with version.h's X.Y.Z
same() {
    if [ "$2" = "$want" ]; then ok "$1: $2"; else bad "$1: '${2}' but version.h says $want"; fi
}

macro() { sed -n "s/^#define NQ_ABI_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" abi/netqueue/version.h; }
major=$(macro MAJOR) minor=$(macro MINOR) patch=$(macro PATCH)
if [ -z "$major" ] || [ -z "$minor" ] || [ -z "$patch" ]; then
    echo "FAIL  abi/netqueue/version.h: no NQ_ABI_VERSION_MAJOR/MINOR/PATCH"
    exit 1
fi
want=$major.$minor.$patch
echo "version.h: $want"

# --- CMake project (CPack's Debian version and netqueueConfigVersion follow it)
if [ -n "$cmake_version" ]; then
    same "CMake PROJECT_VERSION" "$cmake_version"
fi
# Any CPack version set literally instead of from the project.
while IFS= read -r line; do
    v=$(printf '%s' "$line" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
    same "literal CPack version (${line%%:*})" "$v"
done < <(grep -rnE --include='*.cmake' --include='CMakeLists.txt' \
    'set\(CPACK_[A-Z_]*VERSION[A-Z_]* +"?[0-9]+\.[0-9]+\.[0-9]+' . 2>/dev/null | grep -v '^\./build')

# --- SONAME
if [ -n "$library" ]; then
    soname=$(objdump -p "$library" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
    if [ "$soname" = "libnetqueue.so.$major" ]; then ok "SONAME: $soname"
    else bad "SONAME of $library: '$soname' but version.h's major gives libnetqueue.so.$major"; fi
fi

# --- abi/netqueue.map: the newest node is NETQUEUE_<major>.<minor>
node=$(grep -oE '^NETQUEUE_[0-9]+\.[0-9]+' abi/netqueue.map | tail -1)
if [ "$node" = "NETQUEUE_$major.$minor" ]; then ok "abi/netqueue.map newest node: $node"
else bad "abi/netqueue.map newest node: '$node' but version.h gives NETQUEUE_$major.$minor"; fi

# --- CHANGELOG.md: the first "## [X.Y.Z]" section after Unreleased
if [ -f CHANGELOG.md ]; then
    released=$(grep -oE '^## \[[0-9]+\.[0-9]+\.[0-9]+\]' CHANGELOG.md | head -1 | tr -d '#[] ')
    same "CHANGELOG.md newest release" "$released"
else
    bad "CHANGELOG.md missing"
fi

# --- man/nq.1: the .TH line names the release ("netqueue X.Y.Z")
if [ -f man/nq.1 ]; then
    th=$(sed -n 's/^\.TH .*"netqueue \([0-9.]*\)".*/\1/p' man/nq.1)
    same "man/nq.1 .TH" "$th"
fi

# --- Python: pyproject.toml's [project] version, or setup.py's when dynamic
py=python3
[ -x .venv-bindings/bin/python ] && py=.venv-bindings/bin/python
pyver=$("$py" - <<'EOF'
import sys, tomllib
with open("bindings/python/pyproject.toml", "rb") as f:
    project = tomllib.load(f).get("project", {})
if "version" in project:
    print(project["version"])
elif "version" in project.get("dynamic", []):
    print("dynamic")
EOF
)
if [ "$pyver" = dynamic ]; then
    pyver=$(cd bindings/python && "../../$py" setup.py --version 2>/dev/null | tail -1) ||
        pyver=$(cd bindings/python && "$py" setup.py --version 2>/dev/null | tail -1)
    same "bindings/python (dynamic: setup.py --version)" "$pyver"
else
    same "bindings/python/pyproject.toml" "$pyver"
fi

# --- Java: the pom's own <version> (a ${property} is looked up)
javaver=$(python3 - <<'EOF'
import re, xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
root = ET.parse("bindings/java/pom.xml").getroot()
v = root.findtext("m:version", default="", namespaces=ns).strip()
m = re.fullmatch(r"\$\{(.+)\}", v)
if m:
    v = root.findtext(f"m:properties/m:{m.group(1)}", default=v, namespaces=ns).strip()
print(v)
EOF
)
same "bindings/java/pom.xml" "$javaver"

# --- Rust: the workspace version, each crate (inherited or literal), the
# netqueue -> netqueue-sys requirement, and Cargo.lock's entries
while IFS='|' read -r what found; do
    same "$what" "$found"
done < <(python3 - <<'EOF'
import re, tomllib
base = "bindings/rust/"
with open(base + "Cargo.toml", "rb") as f:
    ws = tomllib.load(f)
wsver = ws.get("workspace", {}).get("package", {}).get("version", "")
print(f"bindings/rust/Cargo.toml workspace.package.version|{wsver}")
for member in ws.get("workspace", {}).get("members", []):
    with open(f"{base}{member}/Cargo.toml", "rb") as f:
        crate = tomllib.load(f)
    v = crate["package"].get("version", "")
    if isinstance(v, dict) and v.get("workspace"):
        v = wsver
    print(f"bindings/rust/{member}/Cargo.toml version|{v}")
    for name, dep in crate.get("dependencies", {}).items():
        if name.startswith("netqueue") and isinstance(dep, dict) and "version" in dep:
            req = re.sub(r"^[=^~ ]+", "", dep["version"])
            print(f"bindings/rust/{member}/Cargo.toml requirement on {name}|{req}")
try:
    with open(base + "Cargo.lock", "rb") as f:
        lock = tomllib.load(f)
    for pkg in lock.get("package", []):
        if pkg["name"] in ("netqueue", "netqueue-sys"):
            print(f"bindings/rust/Cargo.lock {pkg['name']}|{pkg['version']}")
except FileNotFoundError:
    pass
EOF
)

# --- Go: tags carry the version; the module path carries the major from 2 on
gomod=$(sed -n 's/^module[[:space:]]\{1,\}//p' bindings/go/go.mod)
suffix=$(printf '%s' "$gomod" | grep -oE '/v[0-9]+$' || true)
if [ "$major" -ge 2 ]; then
    if [ "$suffix" = "/v$major" ]; then ok "bindings/go/go.mod module path: $gomod"
    else bad "bindings/go/go.mod: module $gomod must end in /v$major for version $want"; fi
else
    if [ -z "$suffix" ]; then ok "bindings/go/go.mod module path: $gomod (no major suffix below 2)"
    else bad "bindings/go/go.mod: module $gomod has a major suffix but version.h says $want"; fi
fi

if [ "$failures" -ne 0 ]; then
    echo "versions: $failures disagree with abi/netqueue/version.h ($want): see docs/versioning.md"
    exit 1
fi
echo "versions: everything says $want"
