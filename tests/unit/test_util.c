/*
 * Unit tests for the log escaper (ca/util.c util_escape_log), the capped
 * buffer (ca/dynbuf.c), util_read_file's cap and the hex decoder
 * (util_unhex).
 */
#include "ac-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/dynbuf.h"
#include "ca/err.h"
#include "ca/util.h"
#include "tests/unit/tap.h"

static const char *esc(const char *, size_t);
/* The escape of a string literal, NULs inside it included. */
#define ESC(lit)	esc((lit), sizeof(lit) - 1)

static void test_plain(void);
static void test_controls(void);
static void test_utf8(void);
static void test_bounds(void);
static void test_dynbuf(void);
static void test_read_file(void);
static void test_unhex(void);
static void test_write_nosync(void);

/* The escape of in[0..len) in a static buffer. */
static const char *
esc(const char *in, size_t len)
{
	static char out[1024];

	util_escape_log(out, sizeof(out), in, len);
	return out;
}

static void
test_plain(void)
{
	const char *s = "10.0.0.1 GET /.well-known/est/cacerts 200 1.0ms";

	TAP_STR_EQ(esc(s, strlen(s)), s, "printable ASCII stays as it is");
	TAP_STR_EQ(ESC(""), "", "empty stays empty");
	TAP_STR_EQ(ESC("a\\nb"), "a\\\\nb",
	    "a backslash doubles, so a literal \\n differs from an LF");
}

static void
test_controls(void)
{
	const char forged[] = "/x\nsmimecad: 10.0.0.9 GET /admin 200";

	TAP_STR_EQ(esc(forged, strlen(forged)),
	    "/x\\nsmimecad: 10.0.0.9 GET /admin 200",
	    "an LF becomes \\n: the forged line stays inside its own");
	TAP_STR_EQ(ESC("a\rb\tc"), "a\\rb\\tc", "CR and TAB: \\r \\t");
	TAP_STR_EQ(ESC("\033[2J\033]0;x\007"),
	    "\\x1b[2J\\x1b]0;x\\x07", "ESC and BEL: \\xNN");
	TAP_STR_EQ(ESC("\x01\x1f\x7f"), "\\x01\\x1f\\x7f",
	    "other C0 controls and DEL: \\xNN");
	TAP_STR_EQ(ESC("a\0b"), "a\\x00b", "a NUL inside the length: \\x00");
}

static void
test_utf8(void)
{
	TAP_STR_EQ(ESC("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91"),
	    "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91",
	    "valid UTF-8 (2, 3, 4 bytes) stays");
	TAP_STR_EQ(ESC("\xff\xfe"), "\\xff\\xfe", "bytes never in UTF-8");
	TAP_STR_EQ(ESC("a\x80z"), "a\\x80z", "a stray continuation byte");
	TAP_STR_EQ(ESC("\xc3"), "\\xc3", "a sequence cut at the end");
	TAP_STR_EQ(ESC("\xe2\x82z"), "\\xe2\\x82z",
	    "a sequence cut by an ASCII byte");
	TAP_STR_EQ(ESC("\xc0\xaf"), "\\xc0\\xaf", "an overlong '/'");
	TAP_STR_EQ(ESC("\xe0\x80\x8a"), "\\xe0\\x80\\x8a",
	    "an overlong LF");
	TAP_STR_EQ(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80",
	    "a UTF-16 surrogate");
	TAP_STR_EQ(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80",
	    "past U+10FFFF");
	TAP_STR_EQ(ESC("\xc2\x85\xc2\x9b"), "\\xc2\\x85\\xc2\\x9b",
	    "C1 controls (NEL, CSI) byte by byte");
	TAP_STR_EQ(ESC("\xe2\x80\xa8\xe2\x80\xae"),
	    "\\xe2\\x80\\xa8\\xe2\\x80\\xae",
	    "line separator and right-to-left override");
	TAP_STR_EQ(ESC("\xef\xbf\xbd"), "\xef\xbf\xbd",
	    "a real U+FFFD stays");
}

static void
test_bounds(void)
{
	char out[8], big[4 * 256 + 1], in[256];
	size_t n;
	int i, clean = 1;

	n = util_escape_log(out, sizeof(out), "abc\ndef", 7);
	TAP_STR_EQ(out, "abc\\nde", "cut at the buffer, after whole escapes");
	TAP_INT_EQ(n, 7, "the length written");
	n = util_escape_log(out, 6, "ab\x1b", 3);
	TAP_STR_EQ(out, "ab", "an escape that does not fit is left out whole");
	n = util_escape_log(out, 5, "ab\xe2\x82\xac", 5);
	TAP_STR_EQ(out, "ab", "a character that does not fit is left out "
	    "whole");
	for (i = 0; i < 256; i++)
		in[i] = (char)(i == 0 ? 1 : i);
	n = util_escape_log(big, sizeof(big), in, sizeof(in));
	TAP_INT_EQ(n, strlen(big), "every byte value: NUL-terminated");
	for (i = 0; big[i] != '\0'; i++)
		if ((unsigned char)big[i] < 0x20 ||
		    (unsigned char)big[i] == 0x7f ||
		    (unsigned char)big[i] >= 0x80)
			clean = 0;
	TAP_OK(clean, "every byte value: only printable ASCII comes out");
	TAP_OK(n <= 4 * sizeof(in), "4 * len + 1 bytes always suffice");
	TAP_INT_EQ(util_escape_log(out, 0, "x", 1), 0, "no room: nothing");
}

static void
test_dynbuf(void)
{
	struct dynbuf d;
	unsigned char *b;
	size_t len = 99, i;
	long room;
	int r = 0;

	dynbuf_init(&d, 1000, 1);
	TAP_INT_EQ(dynbuf_add(&d, "abc", 3), 0, "add 3 bytes");
	TAP_STR_EQ((char *)d.buf, "abc", "NUL-terminated");
	for (i = 0; i < 200 && r == 0; i++)
		r = dynbuf_add(&d, "0123456789", 10);
	TAP_INT_EQ(r, DYNBUF_TOOBIG, "past max: DYNBUF_TOOBIG");
	TAP_INT_EQ(d.len, 993, "nothing of the refused add is kept");
	TAP_OK(d.buf[993] == '\0', "still NUL-terminated");
	TAP_INT_EQ(dynbuf_add(&d, "1234567", 7), 0, "exactly up to max");
	TAP_INT_EQ(dynbuf_room(&d, 10), 0, "no room at max");
	b = dynbuf_take(&d, &len);
	TAP_OK(b != NULL && len == 1000 && b[1000] == '\0',
	    "take hands over 1000 bytes and the NUL");
	TAP_OK(d.buf == NULL && d.len == 0, "the buffer is empty after take");
	free(b);
	room = dynbuf_room(&d, 5);
	TAP_OK(room >= 1 && room <= 1000, "room for a read: %ld", room);
	memcpy(d.buf, "xy", 2);
	dynbuf_commit(&d, 2);
	TAP_STR_EQ((char *)d.buf, "xy", "commit after a read");
	dynbuf_free(&d);
	TAP_OK(d.buf == NULL && d.len == 0 && d.cap == 0, "free empties it");
	dynbuf_init(&d, 0, 0);
	TAP_INT_EQ(dynbuf_add(&d, "", 0), 0, "max 0: an empty add");
	TAP_INT_EQ(dynbuf_add(&d, "x", 1), DYNBUF_TOOBIG, "max 0: one byte");
	b = dynbuf_take(&d, &len);
	TAP_OK(b != NULL && len == 0 && b[0] == '\0', "take of nothing: \"\"");
	free(b);
}

static void
test_read_file(void)
{
	char path[] = "/tmp/test_util.XXXXXX";
	unsigned char *b = NULL;
	size_t len = 0;
	struct ca_err err;
	int fd;

	ca_err_clear(&err);
	if ((fd = mkstemp(path)) == -1 || write(fd, "0123456789", 10) != 10) {
		perror(path);
		exit(1);
	}
	close(fd);
	TAP_INT_EQ(util_read_file(path, 10, &b, &len, &err), 0,
	    "a file of exactly the cap is read");
	TAP_OK(b != NULL && len == 10 && memcmp(b, "0123456789", 11) == 0,
	    "all of it, NUL-terminated");
	free(b);
	b = NULL;
	TAP_INT_EQ(util_read_file(path, 9, &b, &len, &err), CA_ERR_INVALID,
	    "one byte over the cap is refused");
	TAP_OK(b == NULL && strstr(err.msg, "larger than 9 bytes") != NULL,
	    "nothing handed over; the message names the cap: %s", err.msg);
	unlink(path);
}

static void
test_unhex(void)
{
	static const char *bad[] = {
		"00112233445566",	/* one byte short */
		"0011223344556677ff",	/* one byte over */
		"001122334455667",	/* odd */
		"00:1122334455667",	/* a separator hexstr2buf would take */
		"0011223344556g77",
		"0011223344 56677",
		"0x11223344556677",
		"",
	};
	unsigned char out[8], hex[17];
	size_t i;

	TAP_INT_EQ(util_unhex("0123456789abcdef", out, sizeof(out)), 0,
	    "lower-case hex");
	TAP_OK(memcmp(out, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8) == 0,
	    "decodes to its bytes");
	TAP_INT_EQ(util_unhex("FFfe00A0b1C2d3E4", out, sizeof(out)), 0,
	    "upper and mixed case");
	TAP_OK(memcmp(out, "\xff\xfe\x00\xa0\xb1\xc2\xd3\xe4", 8) == 0,
	    "decodes to its bytes");
	util_hex(out, sizeof(out), (char *)hex);
	TAP_STR_EQ((char *)hex, "fffe00a0b1c2d3e4", "util_hex turns it back");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 0x5a, sizeof(out));
		TAP_INT_EQ(util_unhex(bad[i], out, sizeof(out)), -1,
		    "refused: \"%s\"", bad[i]);
		TAP_OK(memcmp(out, "\0\0\0\0\0\0\0\0", 8) == 0,
		    "and out is zeroed");
	}
	TAP_INT_EQ(util_unhex("", out, 0), 0, "no digits for no bytes");
}

/* The export's writes: whole files, mode kept, one flush at the end. */
static void
test_write_nosync(void)
{
	char dir[] = "/tmp/test_util.XXXXXX", *path;
	unsigned char *b = NULL;
	struct stat st;
	struct ca_err err;
	size_t len = 0;

	ca_err_clear(&err);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		exit(1);
	}
	path = tap_path(dir, "a.json");
	TAP_INT_EQ(util_write_file_nosync(path, "{}\n", 3, 0600, &err), 0,
	    "util_write_file_nosync writes");
	TAP_OK(util_read_file(path, 100, &b, &len, &err) == 0 && len == 3 &&
	    memcmp(b, "{}\n", 3) == 0, "the whole content is there");
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "with the mode asked for");
	TAP_INT_EQ(util_sync_fs(dir, &err), 0, "util_sync_fs on the folder");
	TAP_INT_EQ(util_sync_fs("/nonexistent/x", &err), CA_ERR_IO,
	    "util_sync_fs on a missing folder fails: %s", err.msg);
	free(b);
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	test_dynbuf();
	test_read_file();
	test_write_nosync();
	test_unhex();
	test_plain();
	test_controls();
	test_utf8();
	test_bounds();
	return tap_done();
}
