/* Opcode names for error messages. */
#include <stdio.h>

#include "codec/pickle_ops.h"

const char *nq_pickle_op_name(int op, char buf[16])
{
    switch (op) {
    case PK_MARK: return "MARK";
    case PK_STOP: return "STOP";
    case PK_POP: return "POP";
    case PK_POP_MARK: return "POP_MARK";
    case PK_DUP: return "DUP";
    case PK_FLOAT: return "FLOAT";
    case PK_INT: return "INT";
    case PK_BININT: return "BININT";
    case PK_BININT1: return "BININT1";
    case PK_LONG: return "LONG";
    case PK_BININT2: return "BININT2";
    case PK_NONE: return "NONE";
    case PK_PERSID: return "PERSID";
    case PK_BINPERSID: return "BINPERSID";
    case PK_REDUCE: return "REDUCE";
    case PK_STRING: return "STRING";
    case PK_BINSTRING: return "BINSTRING";
    case PK_SHORT_BINSTRING: return "SHORT_BINSTRING";
    case PK_UNICODE: return "UNICODE";
    case PK_BINUNICODE: return "BINUNICODE";
    case PK_APPEND: return "APPEND";
    case PK_BUILD: return "BUILD";
    case PK_GLOBAL: return "GLOBAL";
    case PK_DICT: return "DICT";
    case PK_EMPTY_DICT: return "EMPTY_DICT";
    case PK_APPENDS: return "APPENDS";
    case PK_GET: return "GET";
    case PK_BINGET: return "BINGET";
    case PK_INST: return "INST";
    case PK_LONG_BINGET: return "LONG_BINGET";
    case PK_LIST: return "LIST";
    case PK_EMPTY_LIST: return "EMPTY_LIST";
    case PK_OBJ: return "OBJ";
    case PK_PUT: return "PUT";
    case PK_BINPUT: return "BINPUT";
    case PK_LONG_BINPUT: return "LONG_BINPUT";
    case PK_SETITEM: return "SETITEM";
    case PK_TUPLE: return "TUPLE";
    case PK_EMPTY_TUPLE: return "EMPTY_TUPLE";
    case PK_SETITEMS: return "SETITEMS";
    case PK_BINFLOAT: return "BINFLOAT";
    case PK_PROTO: return "PROTO";
    case PK_NEWOBJ: return "NEWOBJ";
    case PK_EXT1: return "EXT1";
    case PK_EXT2: return "EXT2";
    case PK_EXT4: return "EXT4";
    case PK_TUPLE1: return "TUPLE1";
    case PK_TUPLE2: return "TUPLE2";
    case PK_TUPLE3: return "TUPLE3";
    case PK_NEWTRUE: return "NEWTRUE";
    case PK_NEWFALSE: return "NEWFALSE";
    case PK_LONG1: return "LONG1";
    case PK_LONG4: return "LONG4";
    case PK_BINBYTES: return "BINBYTES";
    case PK_SHORT_BINBYTES: return "SHORT_BINBYTES";
    case PK_SHORT_BINUNICODE: return "SHORT_BINUNICODE";
    case PK_BINUNICODE8: return "BINUNICODE8";
    case PK_BINBYTES8: return "BINBYTES8";
    case PK_EMPTY_SET: return "EMPTY_SET";
    case PK_ADDITEMS: return "ADDITEMS";
    case PK_FROZENSET: return "FROZENSET";
    case PK_NEWOBJ_EX: return "NEWOBJ_EX";
    case PK_STACK_GLOBAL: return "STACK_GLOBAL";
    case PK_MEMOIZE: return "MEMOIZE";
    case PK_FRAME: return "FRAME";
    case PK_BYTEARRAY8: return "BYTEARRAY8";
    case PK_NEXT_BUFFER: return "NEXT_BUFFER";
    case PK_READONLY_BUFFER: return "READONLY_BUFFER";
    }
    snprintf(buf, 16, "opcode 0x%02x", (unsigned)op & 0xffu);
    return buf;
}
