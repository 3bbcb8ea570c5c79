/*
 * A preload library for the tests: makes the dynamic loader say no to
 * libisal, as on a system where ISA-L is not installed, so that the run-time
 * fallback to zlib is exercised by the same binaries.
 */
#include <dlfcn.h>
#include <string.h>

void *dlopen(const char *file, int mode)
{
	static void *(*real)(const char *, int);

	if (file && strstr(file, "libisal"))
		return NULL;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "dlopen");
	return real ? real(file, mode) : NULL;
}
