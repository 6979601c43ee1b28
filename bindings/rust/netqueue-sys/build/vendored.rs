//! The `vendored` feature: build libnetqueue.a from the C sources in c/
//! (the repository's CMakeLists.txt, cmake/, abi/ and src/, packaged with
//! the crate) with CMake, and link it statically. Its own dependencies stay
//! shared system libraries: the ones CMake found (libev, OpenSSL, and
//! paho-mqtt3as when the MQTT transport was built), gRPC with what its
//! pkg-config file lists when the gRPC transport was built, and pthread.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

pub fn build() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let src = manifest.join("c");
    if !src.join("CMakeLists.txt").is_file() {
        eprintln!("netqueue-sys: the vendored feature needs the C sources in {}", src.display());
        std::process::exit(1);
    }
    for part in ["CMakeLists.txt", "cmake", "abi", "src"] {
        // c/* are symlinks in the repository: watch what they point at.
        let path = src.join(part);
        println!("cargo:rerun-if-changed={}", fs::canonicalize(&path).unwrap_or(path).display());
    }

    // Only the static library is built (build_target), so the tests, the
    // tools and the shared library need nothing; the options keep CMake from
    // configuring what the packaged sources do not carry.
    let dst = cmake::Config::new(&src)
        .profile("RelWithDebInfo")
        .define("NQ_BUILD_TESTS", "OFF")
        .define("NQ_BUILD_BENCH", "OFF")
        .define("NQ_BUILD_EXAMPLES", "OFF")
        .define("NQ_BUILD_CONFORMANCE", "OFF")
        .build_target("netqueue_static")
        .build();
    let build = dst.join("build");
    println!("cargo:rustc-link-search=native={}", build.join("src").display());
    println!("cargo:rustc-link-lib=static=netqueue");
    println!("cargo:include={}", src.join("abi").display());
    println!("cargo:static=1");

    let cache = read_cache(&build.join("CMakeCache.txt"));
    let on = |key: &str| cache.get(key).is_some_and(|v| v == "ON");
    let mut libs = vec!["LIBEV_LIBRARY"];
    if on("NQ_WITH_MQTT") {
        libs.push("PAHO_LIBRARY");
    }
    libs.extend(["OPENSSL_SSL_LIBRARY", "OPENSSL_CRYPTO_LIBRARY"]);
    for key in libs {
        match cache.get(key) {
            Some(path) => link_file(Path::new(path)),
            None => {
                eprintln!("netqueue-sys: CMake did not record {key} in {}", build.display());
                std::process::exit(1);
            }
        }
    }
    if on("NQ_WITH_GRPC") {
        // the pkg-config crate prints the link flags of grpc and its deps
        if let Err(e) = pkg_config::Config::new().probe("grpc") {
            eprintln!("netqueue-sys: CMake built the gRPC transport but pkg-config cannot find grpc: {e}");
            std::process::exit(1);
        }
    }
    println!("cargo:rustc-link-lib=dylib=pthread");
}

/// KEY:TYPE=VALUE lines of a CMakeCache.txt, by KEY.
fn read_cache(path: &Path) -> HashMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("netqueue-sys: cannot read {}: {e}", path.display());
        std::process::exit(1);
    });
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("//"))
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let key = key.split_once(':').map_or(key, |(k, _)| k);
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Link a library CMake found as a file (/usr/lib/.../libev.so): its
/// directory as a search path, its name without lib and the suffix.
fn link_file(path: &Path) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (stem, kind) = if let Some(s) = name.strip_suffix(".a") {
        (s, "static")
    } else {
        (name.split(".so").next().unwrap_or(name), "dylib")
    };
    let Some(stem) = stem.strip_prefix("lib") else {
        eprintln!("netqueue-sys: cannot link {}: not a lib*.so or lib*.a", path.display());
        std::process::exit(1);
    };
    if let Some(dir) = path.parent() {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    println!("cargo:rustc-link-lib={kind}={stem}");
}
