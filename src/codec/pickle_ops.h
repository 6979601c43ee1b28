/* Internal: the pickle opcodes the codec writes, reads or names in errors. */
#ifndef NQ_CODEC_PICKLE_OPS_H
#define NQ_CODEC_PICKLE_OPS_H

enum {
    PK_MARK = '(', PK_STOP = '.', PK_POP = '0', PK_POP_MARK = '1', PK_DUP = '2',
    PK_FLOAT = 'F', PK_INT = 'I', PK_BININT = 'J', PK_BININT1 = 'K', PK_LONG = 'L',
    PK_BININT2 = 'M', PK_NONE = 'N', PK_PERSID = 'P', PK_BINPERSID = 'Q',
    PK_REDUCE = 'R', PK_STRING = 'S', PK_BINSTRING = 'T', PK_SHORT_BINSTRING = 'U',
    PK_UNICODE = 'V', PK_BINUNICODE = 'X', PK_APPEND = 'a', PK_BUILD = 'b',
    PK_GLOBAL = 'c', PK_DICT = 'd', PK_EMPTY_DICT = '}', PK_APPENDS = 'e',
    PK_GET = 'g', PK_BINGET = 'h', PK_INST = 'i', PK_LONG_BINGET = 'j',
    PK_LIST = 'l', PK_EMPTY_LIST = ']', PK_OBJ = 'o', PK_PUT = 'p',
    PK_BINPUT = 'q', PK_LONG_BINPUT = 'r', PK_SETITEM = 's', PK_TUPLE = 't',
    PK_EMPTY_TUPLE = ')', PK_SETITEMS = 'u', PK_BINFLOAT = 'G',
    PK_PROTO = 0x80, PK_NEWOBJ = 0x81, PK_EXT1 = 0x82, PK_EXT2 = 0x83,
    PK_EXT4 = 0x84, PK_TUPLE1 = 0x85, PK_TUPLE2 = 0x86, PK_TUPLE3 = 0x87,
    PK_NEWTRUE = 0x88, PK_NEWFALSE = 0x89, PK_LONG1 = 0x8a, PK_LONG4 = 0x8b,
    PK_BINBYTES = 'B', PK_SHORT_BINBYTES = 'C',
    PK_SHORT_BINUNICODE = 0x8c, PK_BINUNICODE8 = 0x8d, PK_BINBYTES8 = 0x8e,
    PK_EMPTY_SET = 0x8f, PK_ADDITEMS = 0x90, PK_FROZENSET = 0x91,
    PK_NEWOBJ_EX = 0x92, PK_STACK_GLOBAL = 0x93, PK_MEMOIZE = 0x94,
    PK_FRAME = 0x95, PK_BYTEARRAY8 = 0x96, PK_NEXT_BUFFER = 0x97,
    PK_READONLY_BUFFER = 0x98
};

/* Python writes MARK..APPENDS / SETITEMS in batches of this many. */
#define PK_BATCH 1000
/* A frame is closed once it holds this much; data this big bypasses frames. */
#define PK_FRAME_TARGET (64 * 1024)
/* A frame with less than this is written without its FRAME header. */
#define PK_FRAME_MIN 4
#define PK_FRAME_HEADER 9

/* Name of an opcode for error messages ("GLOBAL", "opcode 0x5a"...). */
const char *nq_pickle_op_name(int op, char buf[16]);

#endif
