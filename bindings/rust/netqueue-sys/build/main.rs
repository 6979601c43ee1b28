//! Find libnetqueue for the FFI: through pkg-config (the default, see
//! system.rs), or, with the `vendored` feature, by building it from the C
//! sources in c/ (vendored.rs). The bindings themselves are pre-generated
//! (src/bindings.rs, see regen.sh), so building needs no libclang.

#[cfg(not(feature = "vendored"))]
mod system;
#[cfg(feature = "vendored")]
mod vendored;

fn main() {
    #[cfg(feature = "vendored")]
    vendored::build();
    #[cfg(not(feature = "vendored"))]
    system::probe();
}
