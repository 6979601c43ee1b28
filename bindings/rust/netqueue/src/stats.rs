//! Statistics snapshots ([`crate::Comm::stats`], [`crate::Comm::peer_stats`]).
use netqueue_sys as sys;
use std::ffi::CStr;

/// One snapshot: (key, value) pairs in the library's order. Keys, units and
/// meanings are in docs/abi.md ("Statistics"); later releases may add
/// keys, so look values up by name ([`Stats::get`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub entries: Vec<(String, u64)>,
}

impl Stats {
    /// SAFETY: raw is a snapshot of our own; it is freed here.
    pub(crate) unsafe fn from_raw(raw: *mut sys::nq_stats) -> Stats {
        // SAFETY: valid snapshot; keys are static NUL-terminated strings.
        let entries = unsafe {
            (0..sys::nq_stats_count(raw))
                .filter_map(|i| {
                    let k = sys::nq_stats_key(raw, i);
                    (!k.is_null()).then(|| (CStr::from_ptr(k).to_string_lossy().into_owned(), sys::nq_stats_value(raw, i)))
                })
                .collect()
        };
        // SAFETY: ours, read above.
        unsafe { sys::nq_stats_free(raw) };
        Stats { entries }
    }

    /// The value of `key`, if this snapshot has it.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.entries.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// The pairs as a map.
    pub fn to_map(&self) -> std::collections::HashMap<String, u64> {
        self.entries.iter().cloned().collect()
    }
}
