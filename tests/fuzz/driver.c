/*
 * Runs a libFuzzer harness over files without libFuzzer, so that the
 * corpus is a regression test under the sanitizers of the debug build.
 */
#include "ac-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ca/err.h"
#include "ca/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char **argv)
{
	struct ca_err err;
	unsigned char *buf;
	size_t len;
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		ca_err_clear(&err);
		if (util_read_file(argv[i], 16 * 1024 * 1024, &buf, &len,
		    &err) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], err.msg);
			return 1;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	printf("%d inputs\n", n);
	return 0;
}
