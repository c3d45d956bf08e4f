/* segvprobe.h - the SIGSEGV/SIGBUS probe table shared by `vmtest segv` and `segv`. */
#ifndef PIVM_USER_SEGVPROBE_H
#define PIVM_USER_SEGVPROBE_H

#include "common.h"

/* Runs the probes and prints one line each. s: the split whose kernel addresses to probe (NULL
 * skips them); text: an address in the program's text (its main); extended: add the probes
 * beyond the reference's table; self_path: a file to map past its end (extended only). */
int segv_probes(const struct split *s, unsigned long text, int extended, const char *self_path);

#endif
