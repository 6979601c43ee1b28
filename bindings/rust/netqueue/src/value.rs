use crate::error::check;
use crate::Result;
use netqueue_sys as sys;
use std::ptr;

/// A Python value as a safe pickle carries it (what Python net-queue peers
/// send by default). Tuples and dicts keep their kind and order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An int beyond i64: little-endian two's complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

/// A C value tree that we own; freed on drop.
pub(crate) struct OwnedValue(*mut sys::nq_value);

impl Drop for OwnedValue {
    fn drop(&mut self) {
        // SAFETY: we own the tree (or it is NULL, which is ignored).
        unsafe { sys::nq_value_free(self.0) }
    }
}

fn new_with(f: impl FnOnce(*mut *mut sys::nq_value) -> sys::nq_status) -> Result<OwnedValue> {
    let mut out = ptr::null_mut();
    check(f(&mut out))?;
    Ok(OwnedValue(out))
}

impl OwnedValue {
    /// SAFETY: raw is a value tree nobody else owns.
    pub(crate) unsafe fn from_raw(raw: *mut sys::nq_value) -> OwnedValue {
        OwnedValue(raw)
    }

    pub(crate) fn as_ptr(&self) -> *const sys::nq_value {
        self.0
    }

    /// Hand the tree to a container that now owns it.
    fn into_raw(self) -> *mut sys::nq_value {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    pub(crate) fn from_value(v: &Value) -> Result<OwnedValue> {
        // SAFETY (all calls below): valid out pointers and input slices.
        unsafe {
            match v {
                Value::None => new_with(|o| sys::nq_value_new_none(o)),
                Value::Bool(b) => new_with(|o| sys::nq_value_new_bool(o, *b as i32)),
                Value::Int(i) => new_with(|o| sys::nq_value_new_int(o, *i)),
                Value::BigInt(b) => new_with(|o| sys::nq_value_new_bigint(o, b.as_ptr(), b.len())),
                Value::Float(f) => new_with(|o| sys::nq_value_new_float(o, *f)),
                Value::Str(s) => new_with(|o| sys::nq_value_new_str(o, s.as_ptr().cast(), s.len())),
                Value::Bytes(b) => new_with(|o| sys::nq_value_new_bytes(o, b.as_ptr().cast(), b.len())),
                Value::ByteArray(b) => new_with(|o| sys::nq_value_new_bytearray(o, b.as_ptr().cast(), b.len())),
                Value::List(items) | Value::Tuple(items) => {
                    let list = if matches!(v, Value::List(_)) {
                        new_with(|o| sys::nq_value_new_list(o))?
                    } else {
                        new_with(|o| sys::nq_value_new_tuple(o))?
                    };
                    for item in items {
                        let item = OwnedValue::from_value(item)?;
                        check(sys::nq_value_append(list.0, item.0))?;
                        item.into_raw();
                    }
                    Ok(list)
                }
                Value::Dict(pairs) => {
                    let dict = new_with(|o| sys::nq_value_new_dict(o))?;
                    for (k, item) in pairs {
                        let k = OwnedValue::from_value(k)?;
                        let item = OwnedValue::from_value(item)?;
                        check(sys::nq_value_dict_add(dict.0, k.0, item.0))?;
                        k.into_raw();
                        item.into_raw();
                    }
                    Ok(dict)
                }
            }
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        // SAFETY: a live tree.
        unsafe { convert(self.0) }
    }
}

/// SAFETY: v is a live value (borrowed).
unsafe fn convert(v: *const sys::nq_value) -> Value {
    let bytes = |v| {
        let mut data = ptr::null();
        let mut size = 0;
        sys::nq_value_get_bytes(v, &mut data, &mut size);
        if size == 0 { Vec::new() } else { std::slice::from_raw_parts(data.cast::<u8>(), size).to_vec() }
    };
    let items = |v| (0..sys::nq_value_len(v)).map(|i| convert(sys::nq_value_item(v, i))).collect();
    match sys::nq_value_type_of(v) {
        sys::NQ_VALUE_BOOL => {
            let mut b = 0;
            sys::nq_value_get_bool(v, &mut b);
            Value::Bool(b != 0)
        }
        sys::NQ_VALUE_INT => {
            let mut i = 0;
            if sys::nq_value_get_int(v, &mut i) == sys::NQ_OK {
                return Value::Int(i);
            }
            let mut data = ptr::null();
            let mut size = 0;
            sys::nq_value_get_bigint(v, &mut data, &mut size);
            Value::BigInt(std::slice::from_raw_parts(data, size).to_vec())
        }
        sys::NQ_VALUE_FLOAT => {
            let mut f = 0.0;
            sys::nq_value_get_float(v, &mut f);
            Value::Float(f)
        }
        sys::NQ_VALUE_STR => Value::Str(String::from_utf8_lossy(&bytes(v)).into_owned()),
        sys::NQ_VALUE_BYTES => Value::Bytes(bytes(v)),
        sys::NQ_VALUE_BYTEARRAY => Value::ByteArray(bytes(v)),
        sys::NQ_VALUE_LIST => Value::List(items(v)),
        sys::NQ_VALUE_TUPLE => Value::Tuple(items(v)),
        sys::NQ_VALUE_DICT => Value::Dict(
            (0..sys::nq_value_len(v))
                .map(|i| (convert(sys::nq_value_dict_key(v, i)), convert(sys::nq_value_item(v, i))))
                .collect(),
        ),
        _ => Value::None,
    }
}

