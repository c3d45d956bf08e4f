# user.mk - the user-space test programs, their data files and the initramfs (included by the
# top-level Makefile).
#
#   make user                      static ARM EABI programs in build/user/arm/, data in build/user/data/
#   make initramfs                 build/initramfs.cpio.gz: /bin/<programs>, /data/<files>
#   make user ARCH=arm64           the same with the AArch64 compiler (build/arm64/user/)
#   make initramfs ARCH=arm64      build/arm64/initramfs.cpio.gz (and .cpio) with those
#
# USER_ARCH (by default the top-level ARCH) picks the cross compiler as Linux's
# ARCH/CROSS_COMPILE do; USER_CC overrides it.

USER_ARCH          ?= $(ARCH)
USER_CROSS_arm     := arm-linux-gnueabihf-
USER_CROSS_arm64   := aarch64-linux-gnu-
USER_CC            ?= $(USER_CROSS_$(USER_ARCH))gcc
USER_SRC           := tests/user
# The ARMv7 outputs keep their places; arm64's live under build/arm64/.
USER_OUT           := $(if $(filter arm,$(USER_ARCH)),build/user/arm,build/$(USER_ARCH)/user)
USER_DATA          := build/user/data
USER_CFLAGS        := -std=c99 -O2 -Wall -Wextra -Werror
# tiny has no C library at all: its own _start and system calls.
USER_TINY_CFLAGS   := $(USER_CFLAGS) -nostdlib -ffreestanding -fno-stack-protector
# Programs linked with static glibc and the shared helpers; vmtest and segv add the probe table.
USER_GLIBC_PROGS   := vmtest segv crash efault forkbomb membomb mapmax procself syscalls spin touch forkwait jobctl files vmbench cardmap swapstress swaptest swapmonkey blkmap fstest pipetest cardwait bigread shmswap tmpfsswap
USER_PROGS         := tiny $(USER_GLIBC_PROGS)
USER_BINS          := $(addprefix $(USER_OUT)/,$(USER_PROGS))
USER_HEADERS       := $(wildcard $(USER_SRC)/*.h)
# The file the fault tests map: 16 MiB (4096 pages), every byte of page i is i mod 256, so a
# program's sum of one byte per page tells which pages it read (the reference's /data/f16m).
USER_DATA_FILES    := $(USER_DATA)/f16m
# A text file in the initramfs only: the console's `cat` of an initramfs file whose pages went
# to swap (tests/qemu_reclaim.rs), 600 lines of "initramfs line NNNNN".
INITRAMFS_DATA_FILES := $(USER_DATA_FILES) $(USER_DATA)/lines.txt
INITRAMFS          := build/$(if $(filter-out arm,$(USER_ARCH)),$(USER_ARCH)/)initramfs.cpio.gz
INITRAMFS_ROOT     := build/initramfs-root-$(USER_ARCH)
# The same archive uncompressed (`make run INITRD=build/initramfs.cpio`): pivm parses it in
# place, and the gzip one as a stream through a 32 KiB inflate window.
INITRAMFS_RAW      := $(INITRAMFS:.cpio.gz=.cpio)

.PHONY: user initramfs compare-linux

user: $(USER_BINS) $(USER_DATA_FILES)

$(USER_OUT)/tiny: $(USER_SRC)/tiny.c
	@mkdir -p $(@D)
	$(USER_CC) $(USER_TINY_CFLAGS) -static -o $@ $<

$(USER_OUT)/vmtest $(USER_OUT)/segv: $(USER_OUT)/%: $(USER_SRC)/%.c $(USER_SRC)/common.c $(USER_SRC)/segvprobe.c $(USER_HEADERS)
	@mkdir -p $(@D)
	$(USER_CC) $(USER_CFLAGS) -static -o $@ $(filter %.c,$^)

$(addprefix $(USER_OUT)/,$(filter-out vmtest segv,$(USER_GLIBC_PROGS))): $(USER_OUT)/%: $(USER_SRC)/%.c $(USER_SRC)/common.c $(USER_HEADERS)
	@mkdir -p $(@D)
	$(USER_CC) $(USER_CFLAGS) -static -o $@ $(filter %.c,$^)

$(USER_DATA)/f16m:
	@mkdir -p $(@D)
	perl -e 'print chr($$_ & 255) x 4096 for 0 .. 4095' > $@

$(USER_DATA)/lines.txt:
	@mkdir -p $(@D)
	perl -e 'printf "initramfs line %05d\n", $$_ for 0 .. 599' > $@

# A newc cpio archive (Debian's GNU cpio, --reproducible: inode numbers in order, owner root),
# gzip-compressed, as Linux's initramfs and pivm's unpacker take it. Timestamps are fixed so
# the same programs give the same archive.
initramfs: $(INITRAMFS)

$(INITRAMFS): $(USER_BINS) $(INITRAMFS_DATA_FILES)
	@mkdir -p $(@D)
	rm -rf $(INITRAMFS_ROOT)
	mkdir -p $(INITRAMFS_ROOT)/bin $(INITRAMFS_ROOT)/data $(INITRAMFS_ROOT)/proc $(INITRAMFS_ROOT)/dev \
		$(INITRAMFS_ROOT)/tmp
	install -m 0755 $(USER_BINS) $(INITRAMFS_ROOT)/bin/
	install -m 0644 $(INITRAMFS_DATA_FILES) $(INITRAMFS_ROOT)/data/
	find $(INITRAMFS_ROOT) -exec touch -h -d @0 {} +
	cd $(INITRAMFS_ROOT) && find . -mindepth 1 | LC_ALL=C sort | \
		cpio -o -H newc -R 0:0 --reproducible --quiet > $(CURDIR)/$(INITRAMFS_RAW).tmp
	gzip -9 -n < $(INITRAMFS_RAW).tmp > $@.tmp
	mv $(INITRAMFS_RAW).tmp $(INITRAMFS_RAW)
	mv $@.tmp $@

# Real Linux 6.1 (Debian's armmp kernel) and pivm on the same QEMU board with the same
# initramfs: the programs' output in build/compare/, and one table next to the reference. pivm
# is the 3G build (the reference's split) unless VMSPLIT= is given.
COMPARE_SPLIT      := $(if $(filter file,$(origin VMSPLIT)),3G,$(VMSPLIT))
# ARCH=arm64: Debian's arm64 Linux 6.1 on raspi3b against pivm at both VA sizes, phases faults,
# layout, hostile, icount, card (build/arm64/sd.img) and swap (build/arm64/sd-512M.img, the
# same p1 and a 471 MiB swap p2), then proc (scripts/compare-linux-arm64.sh; the proc phase,
# pivm's boot and /proc files against the recorded arm64 transcripts, is part of `make test`).
# diskcost is `make bench-disk ARCH=arm64`.
ifeq ($(ARCH),arm64)
compare-linux: setup initramfs
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=39 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES= SD_SIZE=512M
	VA_BITS="48 39" bash scripts/compare-linux-arm64.sh
else
# The card and swap phases attach build/sd.img and build/sd-512M.img (make sd-image).
compare-linux: setup initramfs
	$(MAKE) --no-print-directory kernel VMSPLIT=$(COMPARE_SPLIT) MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image VMSPLIT=$(COMPARE_SPLIT) MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image VMSPLIT=$(COMPARE_SPLIT) MAX_ORDER= FEATURES= SD_SIZE=512M
	VMSPLIT=$(COMPARE_SPLIT) bash scripts/compare-linux.sh
endif
