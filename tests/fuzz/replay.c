/*
 * Runs a fuzz harness over stored inputs without libFuzzer: each argument
 * is a file or a directory of files (read in name order), and each file is
 * one call of LLVMFuzzerTestOneInput.  Built with the normal compiler and
 * run by "meson test", so that the seed corpus and every crash input kept
 * in it are checked on each build.  A run that found no input fails: it
 * would prove nothing.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			data = realloc(data, cap);
			if (!data) {
				fprintf(stderr, "replay: out of memory\n");
				exit(1);
			}
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	/* An exact-size copy, so that a read past the end is caught. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static size_t run_path(const char *path)
{
	struct stat st;
	struct dirent **names;
	size_t done = 0;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		char *p;
		if (names[i]->d_name[0] != '.' &&
		    asprintf(&p, "%s/%s", path, names[i]->d_name) > 0) {
			done += run_path(p);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	size_t done = 0;

	for (int i = 1; i < argc; i++)
		done += run_path(argv[i]);
	printf("replay: %zu inputs\n", done);
	if (done == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	return 0;
}
