//! Raw FFI bindings to libnetqueue's C ABI (`abi/netqueue/*.h`), generated
//! by bindgen (see `regen.sh`) and committed. Enums are plain integer
//! constants, so a status code newer than these bindings is still a valid
//! value. Use the `netqueue` crate for a safe API.
#![no_std]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

include!("bindings.rs");
