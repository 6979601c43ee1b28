//! libnetqueue from its pkg-config file (netqueue.pc): point
//! PKG_CONFIG_PATH at <prefix>/lib/pkgconfig for an install outside the
//! system's search path.
//!
//! A library found outside the linker's default directories would not be
//! found at run time either, so its directory is also recorded as an rpath
//! of this package's own binaries and exported as metadata
//! (DEP_NETQUEUE_LIBDIR), which the netqueue crate's build script turns into
//! an rpath of its tests and examples. Cargo passes link arguments of a
//! build script only to the package's own targets, so a program using the
//! crate adds the rpath itself (docs/bindings-rust.md) or uses `vendored`.
//! NETQUEUE_NO_RPATH=1 turns this off (for a packager who installs the
//! library in a system directory later).

pub fn probe() {
    println!("cargo:rerun-if-env-changed=NETQUEUE_NO_RPATH");
    let lib = match pkg_config::Config::new().atleast_version("1.1").probe("netqueue") {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!("netqueue-sys: libnetqueue not found through pkg-config: {e}");
            eprintln!("netqueue-sys: install it and set PKG_CONFIG_PATH to its lib/pkgconfig,");
            eprintln!("netqueue-sys: or build it from source with the `vendored` feature");
            std::process::exit(1);
        }
    };
    if std::env::var_os("NETQUEUE_NO_RPATH").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    // pkg-config leaves the system's own library directories out of
    // link_paths: whatever is left needs an rpath to be found at run time.
    for dir in &lib.link_paths {
        // a relocatable netqueue.pc gives <prefix>/lib/pkgconfig/../../lib
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        println!("cargo:libdir={}", dir.display());
    }
}
