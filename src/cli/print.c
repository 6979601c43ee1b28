/* One line per received message: `<peer-hex> <len> <text-or-repr>`. */
#include "cli.h"

/* Valid UTF-8 without control characters (C0, DEL, C1), so that the text
 * stays on its one line and cannot be mistaken for anything else. */
static int printable_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += len;
    }
    return 1;
}

static void print_raw(FILE *f, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (printable_utf8(p, n)) {
        fwrite(p, 1, n, f);
        return;
    }
    fputs("0x", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

int cli_print_msg(FILE *f, const nq_msg *msg, nq_codec codec)
{
    uint8_t peer[NQ_ID_SIZE];
    char hex[2 * NQ_ID_SIZE + 1] = "?";
    if (nq_msg_peer(msg, peer) == NQ_OK)
        nq_id_format(peer, hex);
    const uint8_t *data = nq_msg_data(msg);
    size_t size = nq_msg_size(msg);

    fprintf(f, "%s %zu", hex, size);
    if (codec == NQ_CODEC_PICKLE) {
        nq_value *v = NULL;
        nq_status st = nq_msg_value(msg, NQ_CODEC_PICKLE, &v);
        if (st == NQ_OK) {
            fputc(' ', f);
            cli_repr(f, v);
            nq_value_free(v);
        } else {
            /* Still show what came, so nothing is silently lost. */
            fputs(size ? " " : "", f);
            print_raw(f, data, size);
            fputc('\n', f);
            fflush(f);
            cli_fail("message from peer is not a pickle", st);
            return CLI_ERROR;
        }
    } else if (size) {
        fputc(' ', f);
        print_raw(f, data, size);
    }
    fputc('\n', f);
    /* Flush per line: scripts read the output while the server runs. */
    return fflush(f) == 0 ? CLI_OK : CLI_ERROR;
}
