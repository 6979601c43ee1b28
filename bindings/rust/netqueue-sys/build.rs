// Link libnetqueue through its pkg-config file (netqueue.pc). Point
// PKG_CONFIG_PATH at <prefix>/lib/pkgconfig for an install outside the
// system's search path. The bindings themselves are pre-generated
// (src/bindings.rs, see regen.sh), so building needs no libclang.
fn main() {
    if let Err(e) = pkg_config::Config::new().atleast_version("1.0").probe("netqueue") {
        eprintln!("netqueue-sys: libnetqueue not found through pkg-config: {e}");
        eprintln!("netqueue-sys: install it, or set PKG_CONFIG_PATH to its lib/pkgconfig");
        std::process::exit(1);
    }
}
