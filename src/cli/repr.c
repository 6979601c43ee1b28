/* Python-like repr() of decoded pickle values, for printing messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Python picks double quotes only when the text has ' and no ". */
static char pick_quote(const uint8_t *p, size_t n)
{
    int single = memchr(p, '\'', n) != NULL, dbl = memchr(p, '"', n) != NULL;
    return single && !dbl ? '"' : '\'';
}

static void repr_escape(FILE *f, uint8_t c, char q)
{
    switch (c) {
    case '\\': fputs("\\\\", f); return;
    case '\n': fputs("\\n", f); return;
    case '\r': fputs("\\r", f); return;
    case '\t': fputs("\\t", f); return;
    }
    if (c == (uint8_t)q)
        fprintf(f, "\\%c", q);
    else
        fprintf(f, "\\x%02x", c);
}

static void repr_str(FILE *f, const uint8_t *p, size_t n)
{
    char q = pick_quote(p, n);
    fputc(q, f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            fprintf(f, "\\x%02x", p[++i]); /* C1 controls, as Python */
        } else if (c >= 0x80 || (c >= 0x20 && c != 0x7f && c != '\\' && c != (uint8_t)q)) {
            fputc(c, f);
        } else {
            repr_escape(f, c, q);
        }
    }
    fputc(q, f);
}

static void repr_bytes(FILE *f, const uint8_t *p, size_t n)
{
    char q = pick_quote(p, n);
    fputc('b', f);
    fputc(q, f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != (uint8_t)q)
            fputc(c, f);
        else
            repr_escape(f, c, q);
    }
    fputc(q, f);
}

/* Shortest digits that read back the same, laid out as Python's repr:
 * positional for exponents -4..15, scientific otherwise. */
static void repr_float(FILE *f, double d)
{
    if (isnan(d)) { fputs("nan", f); return; }
    if (isinf(d)) { fputs(d < 0 ? "-inf" : "inf", f); return; }
    char buf[64];
    int prec;
    for (prec = 1; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp < -4 || exp >= 16) {
        fputs(buf, f);
        return;
    }
    int decimals = prec - 1 - exp;
    snprintf(buf, sizeof buf, "%.*f", decimals > 0 ? decimals : 0, d);
    fputs(buf, f);
    if (!strchr(buf, '.'))
        fputs(".0", f);
}

/* Decimal of a little-endian two's complement integer. Python itself
 * refuses to print ints of over 4300 digits, so do we. */
static void repr_bigint(FILE *f, const uint8_t *le, size_t n)
{
    if (n == 0) { fputc('0', f); return; }
    if (n > 1700) { fprintf(f, "<int of %zu bytes>", n); return; }
    uint8_t *mag = malloc(n);
    char *digits = malloc(n * 3 + 2);
    if (!mag || !digits) {
        free(mag);
        free(digits);
        fputs("<int>", f);
        return;
    }
    int neg = le[n - 1] & 0x80;
    unsigned carry = 1;
    for (size_t i = 0; i < n; i++) { /* big-endian magnitude */
        unsigned b = le[i];
        if (neg) {
            b = (~b & 0xff) + carry;
            carry = b >> 8;
            b &= 0xff;
        }
        mag[n - 1 - i] = (uint8_t)b;
    }
    size_t nd = 0, start = 0;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned cur = (rem << 8) | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0)
            start++;
    }
    if (neg)
        fputc('-', f);
    while (nd)
        fputc(digits[--nd], f);
    free(mag);
    free(digits);
}

static void repr_items(FILE *f, const nq_value *v, const char *open, const char *close)
{
    size_t n = nq_value_len(v);
    fputs(open, f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        cli_repr(f, nq_value_item(v, i));
    }
    if (n == 1 && nq_value_type_of(v) == NQ_VALUE_TUPLE)
        fputc(',', f);
    fputs(close, f);
}

void cli_repr(FILE *f, const nq_value *v)
{
    const void *data;
    size_t size;
    int b;
    int64_t i;
    double d;
    switch (nq_value_type_of(v)) {
    case NQ_VALUE_NONE: fputs("None", f); return;
    case NQ_VALUE_BOOL:
        nq_value_get_bool(v, &b);
        fputs(b ? "True" : "False", f);
        return;
    case NQ_VALUE_INT:
        if (nq_value_get_int(v, &i) == NQ_OK)
            fprintf(f, "%lld", (long long)i);
        else if (nq_value_get_bigint(v, (const uint8_t **)&data, &size) == NQ_OK)
            repr_bigint(f, data, size);
        return;
    case NQ_VALUE_FLOAT:
        nq_value_get_float(v, &d);
        repr_float(f, d);
        return;
    case NQ_VALUE_STR:
        nq_value_get_bytes(v, &data, &size);
        repr_str(f, data, size);
        return;
    case NQ_VALUE_BYTES:
        nq_value_get_bytes(v, &data, &size);
        repr_bytes(f, data, size);
        return;
    case NQ_VALUE_BYTEARRAY:
        nq_value_get_bytes(v, &data, &size);
        fputs("bytearray(", f);
        repr_bytes(f, data, size);
        fputc(')', f);
        return;
    case NQ_VALUE_LIST: repr_items(f, v, "[", "]"); return;
    case NQ_VALUE_TUPLE: repr_items(f, v, "(", ")"); return;
    case NQ_VALUE_DICT: {
        size_t n = nq_value_len(v);
        fputc('{', f);
        for (size_t k = 0; k < n; k++) {
            if (k)
                fputs(", ", f);
            cli_repr(f, nq_value_dict_key(v, k));
            fputs(": ", f);
            cli_repr(f, nq_value_item(v, k));
        }
        fputc('}', f);
        return;
    }
    }
    fputs("<?>", f);
}
