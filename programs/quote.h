/*
 * Names as messages show them, quoted the way GNU tools quote file names
 * in theirs (coreutils' shell-escape style, with ':' quoted too): as is
 * when the name reads unambiguously; else in single quotes, with every
 * byte that is not a printable character written as $'\ooo' (or $'\n',
 * $'\t', ...), so that a name can neither move the cursor nor inject an
 * escape sequence, and what is shown can be pasted back into a shell.
 * A multibyte character of the locale (UTF-8) that is printable stays as
 * it is; in the C locale every byte above 0x7f is escaped.
 */
#ifndef PMERGE_QUOTE_H
#define PMERGE_QUOTE_H

/*
 * The quoted form of name (NUL-terminated).  Never NULL: when memory runs
 * out, a fixed "'?'" stands for the name.  Release with pm_quote_free().
 * Any thread; reads the locale's LC_CTYPE.
 */
char *pm_quote(const char *name);

/*
 * The same, always in quotes (GNU's shell-escape-always style: 'a.log'),
 * for messages that set a name in running text ("cannot open 'F'").
 */
char *pm_quote_always(const char *name);

/* Releases what pm_quote() or pm_quote_always() returned.  Accepts NULL. */
void pm_quote_free(char *quoted);

#endif /* PMERGE_QUOTE_H */
