package netqueue

/*
#include <stdlib.h>
#include <netqueue/netqueue.h>
*/
import "C"

import (
	"fmt"
	"math/big"
	"runtime"
	"unsafe"
)

// PutValue encodes v with the communicator's codec (WithCodec) and puts
// it, as Put does. Under CodecPickle (what Python net-queue peers use by
// default) v may be nil, bool, int, int64, float64, string, []byte, []any
// and map[string]any, nested; under CodecRaw only string or []byte.
func (m *Comm) PutValue(v any, to ...ID) (*Future, error) {
	val, err := toValue(v)
	if err != nil {
		return nil, err
	}
	defer C.nq_value_free(val)
	return m.put("put", func(c *C.nq_comm, peers *C.uint8_t, n C.size_t, tag C.uint64_t) C.nq_status {
		// Encode with the communicator's codec into bytes, then put those
		// through the completion queue (nq_comm_put_value takes a callback).
		var st C.nq_status
		var buf unsafe.Pointer
		var size C.size_t
		if m.codec == CodecPickle {
			if st = C.nq_pickle_dump(val, &buf, &size); st != C.NQ_OK {
				return st
			}
			defer C.nq_buffer_free(buf)
		} else {
			var data unsafe.Pointer
			if st = C.nq_value_get_bytes(val, &data, &size); st != C.NQ_OK {
				return C.NQ_ECODEC
			}
			buf = data
		}
		return C.nq_comm_put_cq(c, buf, size, peers, n, m.cq, tag)
	}, to)
}

// Value decodes the payload with the communicator's codec: under
// CodecPickle into nil, bool, int64 (or *big.Int beyond it), float64,
// string, []byte, []any (lists and tuples) or map[any]any; under CodecRaw
// into []byte.
func (m *Message) Value() (any, error) {
	if m.codec != CodecPickle {
		return m.Data, nil
	}
	runtime.LockOSThread() // nq_last_error is per thread
	defer runtime.UnlockOSThread()
	var val *C.nq_value
	if st := C.nq_pickle_load(bytesPtr(m.Data), C.size_t(len(m.Data)), &val); st != C.NQ_OK {
		return nil, &Error{Op: "value", Status: Status(st), Detail: C.GoString(C.nq_last_error())}
	}
	defer C.nq_value_free(val)
	return fromValue(val)
}

func codecErr(format string, a ...any) error {
	return &Error{Op: "value", Status: StatusCodec, Detail: fmt.Sprintf(format, a...)}
}

// toValue builds a C value tree of v; the caller frees it.
func toValue(v any) (*C.nq_value, error) {
	var out *C.nq_value
	var st C.nq_status
	switch x := v.(type) {
	case nil:
		st = C.nq_value_new_none(&out)
	case bool:
		st = C.nq_value_new_bool(&out, cbool(x))
	case int:
		st = C.nq_value_new_int(&out, C.int64_t(x))
	case int64:
		st = C.nq_value_new_int(&out, C.int64_t(x))
	case float64:
		st = C.nq_value_new_float(&out, C.double(x))
	case string:
		cs := C.CString(x)
		st = C.nq_value_new_str(&out, cs, C.size_t(len(x)))
		C.free(unsafe.Pointer(cs))
	case []byte:
		st = C.nq_value_new_bytes(&out, bytesPtr(x), C.size_t(len(x)))
	case []any:
		if st = C.nq_value_new_list(&out); st != C.NQ_OK {
			break
		}
		for _, item := range x {
			iv, err := toValue(item)
			if err == nil && C.nq_value_append(out, iv) != C.NQ_OK {
				C.nq_value_free(iv)
				err = codecErr("cannot append to list")
			}
			if err != nil {
				C.nq_value_free(out)
				return nil, err
			}
		}
	case map[string]any:
		if st = C.nq_value_new_dict(&out); st != C.NQ_OK {
			break
		}
		for k, item := range x {
			kv, err := toValue(k)
			if err != nil {
				C.nq_value_free(out)
				return nil, err
			}
			iv, err := toValue(item)
			if err == nil && C.nq_value_dict_add(out, kv, iv) != C.NQ_OK {
				C.nq_value_free(iv)
				err = codecErr("cannot add to dict")
			}
			if err != nil {
				C.nq_value_free(kv)
				C.nq_value_free(out)
				return nil, err
			}
		}
	default:
		return nil, codecErr("cannot encode a %T", v)
	}
	if st != C.NQ_OK {
		return nil, &Error{Op: "value", Status: Status(st)}
	}
	return out, nil
}

// fromValue converts a C value tree (borrowed) to Go.
func fromValue(v *C.nq_value) (any, error) {
	switch C.nq_value_type_of(v) {
	case C.NQ_VALUE_NONE:
		return nil, nil
	case C.NQ_VALUE_BOOL:
		var b C.int
		C.nq_value_get_bool(v, &b)
		return b != 0, nil
	case C.NQ_VALUE_INT:
		var i C.int64_t
		if C.nq_value_get_int(v, &i) == C.NQ_OK {
			return int64(i), nil
		}
		return bigInt(v), nil
	case C.NQ_VALUE_FLOAT:
		var f C.double
		C.nq_value_get_float(v, &f)
		return float64(f), nil
	case C.NQ_VALUE_STR, C.NQ_VALUE_BYTES, C.NQ_VALUE_BYTEARRAY:
		var data unsafe.Pointer
		var size C.size_t
		C.nq_value_get_bytes(v, &data, &size)
		b := C.GoBytes(data, C.int(size))
		if C.nq_value_type_of(v) == C.NQ_VALUE_STR {
			return string(b), nil
		}
		return b, nil
	case C.NQ_VALUE_LIST, C.NQ_VALUE_TUPLE:
		n := int(C.nq_value_len(v))
		items := make([]any, n)
		for i := range n {
			item, err := fromValue(C.nq_value_item(v, C.size_t(i)))
			if err != nil {
				return nil, err
			}
			items[i] = item
		}
		return items, nil
	case C.NQ_VALUE_DICT:
		n := int(C.nq_value_len(v))
		d := make(map[any]any, n)
		for i := range n {
			k, err := fromValue(C.nq_value_dict_key(v, C.size_t(i)))
			if err != nil {
				return nil, err
			}
			item, err := fromValue(C.nq_value_item(v, C.size_t(i)))
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case []byte, []any, map[any]any:
				return nil, codecErr("dict key of type %T is not usable in Go", k)
			}
			d[k] = item
		}
		return d, nil
	}
	return nil, codecErr("unknown value type")
}

// bigInt reads an int beyond int64 (little-endian two's complement).
func bigInt(v *C.nq_value) *big.Int {
	var data *C.uint8_t
	var size C.size_t
	C.nq_value_get_bigint(v, &data, &size)
	le := C.GoBytes(unsafe.Pointer(data), C.int(size))
	be := make([]byte, len(le))
	for i := range le {
		be[len(le)-1-i] = le[i]
	}
	n := new(big.Int).SetBytes(be)
	if len(be) > 0 && be[0]&0x80 != 0 { // negative: subtract 2^(8*len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(be))))
	}
	return n
}
