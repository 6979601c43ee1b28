// Give this crate's tests and examples an rpath to libnetqueue when
// netqueue-sys found it outside the system's library directories (it
// exports that directory as DEP_NETQUEUE_LIBDIR; see
// netqueue-sys/build/system.rs), so `cargo test` and `cargo run --example`
// need no LD_LIBRARY_PATH. Cargo applies these link arguments to this
// package's own targets only; a program using the crate sets its own rpath
// or uses the `vendored` feature (docs/bindings-rust.md).
fn main() {
    println!("cargo:rerun-if-env-changed=NETQUEUE_NO_RPATH");
    if let Some(dir) = std::env::var_os("DEP_NETQUEUE_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
