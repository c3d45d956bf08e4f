/* crash - a hostile program that faults with no handler installed: the kernel must kill it
 * (SIGSEGV, SIGBUS or SIGILL; a shell says "Segmentation fault") and carry on.
 *   crash null-read | null-write          *(int *)0
 *   crash read ADDR | write ADDR | jump ADDR
 *   crash kernel-read | kernel-write | kernel-jump [3G|2G|1G|auto]   PAGE_OFFSET + 0x8000
 *   crash vectors-write                   a write to the user-readable [vectors] page
 *   crash stack                           recursion until the stack rlimit
 *   crash undef                           an undefined instruction
 * Prints what it is about to do first; if it survives it says so and exits 1. */
#define _GNU_SOURCE
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KERNEL_TEXT_OFFSET 0x8000UL
#define VECTORS 0xffff0000UL

static void usage(void)
{
    fprintf(stderr, "usage: crash null-read|null-write|vectors-write|stack|undef\n"
                    "       crash read|write|jump ADDR\n"
                    "       crash kernel-read|kernel-write|kernel-jump [3G|2G|1G|auto]\n");
    exit(2);
}

static unsigned long parse_addr(const char *s)
{
    char *e;
    unsigned long a = strtoul(s, &e, 0);
    if (*e)
        usage();
    return a;
}

static unsigned long depth;
static __attribute__((noinline)) unsigned long recurse(unsigned long n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    depth = n;
    if (n == ~0UL) /* never: the stack ends first */
        return 0;
    return recurse(n + 1) + frame[0];
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    unsigned long addr = 0;
    enum { READ, WRITE, JUMP } how = READ;
    if (!strcmp(mode, "null-read")) {
        how = READ;
    } else if (!strcmp(mode, "null-write")) {
        how = WRITE;
    } else if (!strcmp(mode, "vectors-write")) {
        how = WRITE;
        addr = VECTORS;
    } else if (!strcmp(mode, "read") || !strcmp(mode, "write") || !strcmp(mode, "jump")) {
        if (argc < 3)
            usage();
        addr = parse_addr(argv[2]);
        how = mode[0] == 'r' ? READ : mode[0] == 'w' ? WRITE : JUMP;
    } else if (!strncmp(mode, "kernel-", 7)) {
        const struct split *s = split_find(argc > 2 ? argv[2] : NULL);
        if (!s) {
            fprintf(stderr, "crash: the split is unknown: name it (3G, 2G or 1G)\n");
            return 2;
        }
        addr = s->page_offset + KERNEL_TEXT_OFFSET;
        how = !strcmp(mode + 7, "read") ? READ : !strcmp(mode + 7, "write") ? WRITE : JUMP;
        if (strcmp(mode + 7, "read") && strcmp(mode + 7, "write") && strcmp(mode + 7, "jump"))
            usage();
    } else if (!strcmp(mode, "stack")) {
        printf("crash: recursing until the stack is exhausted\n");
        fflush(stdout);
        recurse(0);
        printf("crash: survived the recursion at depth %lu\n", depth);
        return 1;
    } else if (!strcmp(mode, "undef")) {
        printf("crash: executing an undefined instruction\n");
        fflush(stdout);
#if defined(__aarch64__)
        __asm__ volatile("udf #0"); /* GCC's trap is BRK there, a SIGTRAP; UDF is SIGILL */
#else
        __builtin_trap();
#endif
        printf("crash: survived an undefined instruction\n");
        return 1;
    } else {
        usage();
    }
    static const char *const verb[] = { "reading", "writing", "jumping to" };
    printf("crash: %s %p\n", verb[how], (void *)addr);
    fflush(stdout);
    volatile unsigned char *p = (volatile unsigned char *)addr;
    unsigned v = 0;
    if (how == READ)
        v = *p;
    else if (how == WRITE)
        *p = 0;
    else
        ((void (*)(void))addr)();
    printf("crash: survived %s %p (value 0x%02x)\n", verb[how], (void *)addr, v);
    return 1;
}
