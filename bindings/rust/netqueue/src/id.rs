use std::fmt;
use std::str::FromStr;

/// A communicator id: 16 bytes, a UUID in RFC 4122 byte order. Displays as
/// 32 lowercase hex digits, as the `nq` tool prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)] // a slice of ids is the C calls' peers array
pub struct Id(pub [u8; 16]);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for Id {
    type Err = crate::Error;
    /// 32 hex digits; dashes are ignored.
    fn from_str(s: &str) -> crate::Result<Id> {
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
        let bad = || crate::Error::new(crate::Status::Invalid, format!("id {s:?} is not 32 hex digits"));
        if hex.len() != 32 {
            return Err(bad());
        }
        let mut id = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| bad())?;
            id[i] = u8::from_str_radix(text, 16).map_err(|_| bad())?;
        }
        Ok(Id(id))
    }
}
