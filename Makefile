# pivm build, run and test entry points. `make help` lists the targets.
# VMSPLIT selects PAGE_OFFSET (3G: 0xC0000000, 2G: 0x80000000, 1G: 0x40000000).

VMSPLIT   ?= 2G
CMDLINE   ?=
# PROFILE=NAME adds pivm.profile=NAME to the command line (make run PROFILE=android-a9).
PROFILE   ?=
BOOTARGS  := $(strip $(CMDLINE) $(if $(PROFILE),pivm.profile=$(PROFILE)))
# Build variants, each in its own directory build/<split>-<variant>: MAX_ORDER=N (3-16) sets
# the number of buddy free lists (Linux's CONFIG_FORCE_MAX_ZONEORDER; 12 is Debian armmp's;
# the environment's PIVM_MAX_ORDER is the same); FEATURES=a,b adds Cargo features (none is
# defined today).
MAX_ORDER ?= $(PIVM_MAX_ORDER)
FEATURES  ?=
comma     := ,
VARIANT   := $(if $(MAX_ORDER),-order$(MAX_ORDER))$(if $(FEATURES),-$(subst $(comma),-,$(FEATURES)))
TARGET    := armv7a-none-eabi
CARGO_PROFILE := release
BUILD     := build/$(VMSPLIT)$(VARIANT)
CARGO_TGT := $(CURDIR)/$(BUILD)/target
ELF_OUT   := $(CARGO_TGT)/$(TARGET)/$(CARGO_PROFILE)/pivm
ELF       := $(BUILD)/kernel.elf
# The first Rust function after the entry code (gdb's breakpoint).
KERNEL_ENTRY := kernel_main
IMG       := $(BUILD)/kernel7.img
# Every tests/dts/NAME.dts becomes build/NAME.dtb (QEMU's -dtb; the QEMU tests boot them).
DTBS      := $(patsubst tests/dts/%.dts,build/%.dtb,$(wildcard tests/dts/*.dts))
OBJCOPY   := arm-none-eabi-objcopy
OBJDUMP   := arm-none-eabi-objdump
READELF   := arm-none-eabi-readelf
NM        := arm-none-eabi-nm
QEMU      := qemu-system-arm
QEMU_ARGS := -M raspi2b -display none -serial stdio -semihosting
SPLITS    := 3G 2G 1G
BIN       := pivm

# The AArch64 kernel keeps frame records (x29/x30) in every function, as arm64 Linux 6.1
# (which selects FRAME_POINTER): the oops' `Call trace:` unwinds them. Only the aarch64 build
# sees this (a target-specific variable); its cost is in the README (Benchmarks).
export CARGO_TARGET_AARCH64_UNKNOWN_NONE_RUSTFLAGS := -C force-frame-pointers=yes

# ARCH=arm64 (Linux's name): the AArch64 kernel for the Pi 3 (QEMU raspi3b), kernel8.img,
# with VA_BITS=48 (4 levels, the default) or 39 (3 levels). ARCH=arm is the default.
ARCH      ?= arm
VA_BITS   ?= 48
ifeq ($(ARCH),arm64)
TARGET    := aarch64-unknown-none
BUILD     := build/arm64-$(VA_BITS)
CARGO_TGT := $(CURDIR)/$(BUILD)/target
ELF_OUT   := $(CARGO_TGT)/$(TARGET)/$(CARGO_PROFILE)/$(BIN)
ELF       := $(BUILD)/kernel8.elf
IMG       := $(BUILD)/kernel8.img
OBJCOPY   := aarch64-linux-gnu-objcopy
OBJDUMP   := aarch64-linux-gnu-objdump
READELF   := aarch64-linux-gnu-readelf
NM        := aarch64-linux-gnu-nm
QEMU      := qemu-system-aarch64
QEMU_ARGS := -M raspi3b -display none -serial stdio -semihosting
KERNEL_ENTRY := __arm64_start_kernel
else ifneq ($(ARCH),arm)
$(error ARCH=$(ARCH): expected arm or arm64)
endif

.DELETE_ON_ERROR:

.PHONY: all kernel run run-elf test unit-test clippy doc gdb objdump readelf nm sdcard clean \
        setup dtb sd-image soak bench bench-boot bench-kernel bench-kernels bench-instructions bench-proc bench-disk scenario picture picture-scenario picture-docs help FORCE

all: kernel

help:
	@echo "make [kernel]      build $(IMG) and $(ELF) (VMSPLIT=3G|2G|1G, MAX_ORDER=3..16)"
	@echo "make ARCH=arm64    the AArch64 kernel for the Pi 3: build/arm64-VA_BITS/kernel8.img (VA_BITS=48|39)"
	@echo "make run           boot it in QEMU, console on this terminal (CMDLINE='...', PROFILE=name)"
	@echo "make run-elf       boot the ELF instead (all four cores start, RAM size from the mailbox)"
	@echo "make test          host unit tests + QEMU tests of all three splits, the MAX_ORDER variants, arm64 48/39"
	@echo "make soak          the swap monkey over many seeds on 2G and arm64 48 (SOAK_SEEDS=1-100 SOAK_STEPS=150)"
	@echo "make bench         all benchmarks: host (criterion), boot time, in-kernel (-icount)"
	@echo "make bench-boot | bench-kernel | bench-instructions | bench-proc   one of them"
	@echo "make bench ARCH=arm64   boot, in-kernel and process benchmarks of the 64-bit kernel (BENCH_VA=48 39)"
	@echo "make scenario      the case study's monkey test, both layouts: time to failure over SEEDS seeds"
	@echo "make picture       boot, memdump, draw the pages of memory into build/picture/ (VMSPLIT=, PROFILE=)"
	@echo "make picture-scenario   the same before and after the scenario, both layouts (SEED=), and its time to failure"
	@echo "make picture-docs  the README's pictures and tests/picture/ transcripts, from real runs"
	@echo "make clippy | doc | gdb | objdump | readelf | nm | sdcard | clean"
	@echo "make sd-image      build/sd.img: the SD card QEMU attaches (FAT32 boot partition + swap);"
	@echo "                   ARCH=arm64: build/arm64/sd.img (kernel8.img, the AArch64 programs)"
	@echo "                   SD_SIZE=512M (power of two, up to 1G) builds build/sd-512M.img, more swap"
	@echo "make user          the C test programs (build/user/arm/; ARCH=arm64: build/arm64/user/) and their data files"
	@echo "make initramfs     build/initramfs.cpio.gz with the programs in /bin, data in /data (ARCH=arm64: build/arm64/)"
	@echo "make compare-linux boot Debian's Linux 6.1 with the same initramfs and SD card, one table per phase"
	@echo "make bench-disk    instructions per major fault from the card and per swap-in, Linux beside pivm"

setup:
	@bash scripts/setup.sh

# Cargo decides what to rebuild; FORCE makes make always ask it.
$(ELF_OUT): FORCE
	VMSPLIT=$(VMSPLIT) VA_BITS=$(VA_BITS) PIVM_MAX_ORDER=$(MAX_ORDER) \
		CARGO_TARGET_DIR=$(CARGO_TGT) cargo build --$(CARGO_PROFILE) \
		--target $(TARGET) --features kernel$(if $(FEATURES),$(comma)$(FEATURES)) --bin $(BIN)

$(ELF): $(ELF_OUT)
	@mkdir -p $(BUILD)
	cp $< $@
	NM=$(NM) OBJCOPY=$(OBJCOPY) READELF=$(READELF) bash scripts/kallsyms.sh $@

$(IMG): $(ELF)
	$(OBJCOPY) -O binary $< $@

kernel: setup $(IMG)

dtb: $(DTBS)
build/%.dtb: tests/dts/%.dts
	@mkdir -p build
	dtc -q -I dts -O dtb -o $@ $<

# INITRD=path: the initramfs QEMU passes (-initrd); by default the test programs' archive,
# gzip-compressed as Linux's is (INITRD=build/initramfs.cpio passes the uncompressed one).
INITRD    ?= build/initramfs.cpio.gz
run: kernel $(if $(filter build/initramfs.cpio build/initramfs.cpio.gz,$(INITRD)),initramfs)
	$(QEMU) $(QEMU_ARGS) -kernel $(IMG) $(if $(BOOTARGS),-append "$(BOOTARGS)") $(if $(INITRD),-initrd $(INITRD))

run-elf: kernel
	$(QEMU) $(QEMU_ARGS) -kernel $(ELF)

unit-test:
	cargo test --lib

# The swap monkey (tests/qemu_swap_monkey.rs, tests/user/swapmonkey.c) over many seeds, one
# boot of each kernel (2G, arm64 VA_BITS=48) running them all in turn: SOAK_SEEDS is a range
# A-B or a list A,B,C, SOAK_STEPS the steps per worker, SOAK_SHAPE the program's -j -r -n -b
# options (the test's own when empty). A failure prints the seed, the
# program's command line and the transcript; the same seed reproduces the same steps.
SOAK_SEEDS ?= 1-100
SOAK_STEPS ?= 150
SOAK_SHAPE ?=
soak: setup
	$(MAKE) --no-print-directory user initramfs ARCH=arm
	$(MAKE) --no-print-directory sd-image ARCH=arm VMSPLIT=2G MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory user initramfs ARCH=arm64
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	SWAPMONKEY_SEEDS=$(SOAK_SEEDS) SWAPMONKEY_STEPS=$(SOAK_STEPS) \
		$(if $(SOAK_SHAPE),SWAPMONKEY_SHAPE="$(SOAK_SHAPE)") env -u PIVM_MAX_ORDER \
		cargo test --test qemu_swap_monkey -- --nocapture

# The default kernel of every split, the build variants the QEMU tests boot (16 lists,
# Debian's 12 for the debian-armmp comparison, a small 4), all tests; then the host unit
# tests again as the 16-list variant builds them.
ifeq ($(ARCH),arm64)
# The 64-bit kernel's share: both VA sizes, the host unit tests, the AArch64 QEMU tests (the
# ARMv7 ones need the 32-bit kernels: plain `make test` runs everything).
test: setup
	$(MAKE) --no-print-directory user initramfs ARCH=arm64
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=39 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES= SD_SIZE=512M
	$(MAKE) --no-print-directory sd-image VMSPLIT=2G MAX_ORDER= FEATURES=
	env -u PIVM_MAX_ORDER cargo test --lib
	env -u PIVM_MAX_ORDER cargo test --test qemu_arm64 --test qemu_arm64_boot --test qemu_arm64_console --test qemu_arm64_sd --test qemu_arm64_process --test qemu_arm64_swap --test qemu_arm64_compare --test architecture --test exec_arm64
	bash scripts/compare-linux-arm64.sh proc
else
test: setup dtb user initramfs sd-image
	$(MAKE) --no-print-directory sd-image VMSPLIT=2G MAX_ORDER= FEATURES= SD_SIZE=512M
	$(MAKE) --no-print-directory user initramfs ARCH=arm64
	@for s in $(SPLITS); do \
		$(MAKE) --no-print-directory kernel VMSPLIT=$$s MAX_ORDER= FEATURES= || exit 1; done
	$(MAKE) --no-print-directory kernel VMSPLIT=3G MAX_ORDER=16 FEATURES=
	$(MAKE) --no-print-directory kernel VMSPLIT=3G MAX_ORDER=12 FEATURES=
	$(MAKE) --no-print-directory kernel VMSPLIT=2G MAX_ORDER=3 FEATURES=
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=39 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES= SD_SIZE=512M
	env -u PIVM_MAX_ORDER cargo test
	cargo test -p picture
	PIVM_MAX_ORDER=16 CARGO_TARGET_DIR=$(CURDIR)/build/host-order16/target cargo test --lib
	bash scripts/compare-linux-arm64.sh proc
endif

clippy:
	cargo clippy --lib --tests -- -D warnings
	VMSPLIT=$(VMSPLIT) PIVM_MAX_ORDER=$(MAX_ORDER) CARGO_TARGET_DIR=$(CARGO_TGT) \
		cargo clippy --target $(TARGET) --features kernel$(if $(FEATURES),$(comma)$(FEATURES)) \
		--bin $(BIN) -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib

gdb: kernel
	@bash scripts/setup.sh --gdb
	$(QEMU) $(QEMU_ARGS) -kernel $(ELF) -s -S & \
	gdb-multiarch -q -ex 'target remote :1234' -ex 'break $(KERNEL_ENTRY)' $(ELF); \
	kill %1 2>/dev/null || true

objdump: kernel
	$(OBJDUMP) -d $(ELF) | less

readelf: kernel
	$(READELF) -a $(ELF)

nm: kernel
	$(NM) -n $(ELF)

# QEMU's SD card (the QEMU tests attach it): MBR, FAT32 p1 with the kernel, config.txt,
# cmdline.txt, the user programs in /bin and the 16 MiB f16m in /data, swap p2; 64 MiB, a
# power of two as QEMU requires. SD_SIZE=512M (up to 1G) makes build/sd-512M.img instead,
# the same p1 and a bigger swap partition (compare-linux's swap phase).
# ARCH=arm64: build/arm64/sd.img, the same layout with kernel8.img (of VA_BITS), config-arm64.txt
# and the AArch64 programs; either VA size's tests attach it (QEMU loads the kernel itself).
SD_SIZE   ?= 64M
SD_IMG    := build/$(if $(filter arm64,$(ARCH)),arm64/)sd$(if $(filter-out 64M,$(SD_SIZE)),-$(SD_SIZE)).img
SD_CONFIG := $(if $(filter arm64,$(ARCH)),config-arm64.txt,config.txt)
sd-image: kernel user
	@mkdir -p $(dir $(SD_IMG))
	SD_SIZE=$(SD_SIZE) SD_DATA="$(USER_DATA_FILES)" bash scripts/sd-image.sh $(SD_IMG) $(IMG) $(SD_CONFIG) \
		"$(if $(CMDLINE),$(CMDLINE),console=serial0,115200)" $(USER_BINS)

# ARCH=arm64: config-arm64.txt (arm_64bit=1, kernel8.img) and the board's upstream device tree.
SDCARD_CONFIG := $(if $(filter arm64,$(ARCH)),config-arm64.txt,config.txt)
SDCARD_DTB    := $(if $(filter arm64,$(ARCH)),build/bcm2837-rpi-3-b.dtb)
sdcard: kernel
	$(if $(SDCARD_DTB),mkdir -p build && cp tests/samples/linux-6.1-raspi3b-arm64.dtb $(SDCARD_DTB))
	DTB=$(SDCARD_DTB) $(if $(filter arm64,$(ARCH)),INITRAMFS=build/arm64/initramfs.cpio) bash scripts/sdcard.sh $(BUILD)/sdcard.img $(IMG) $(SDCARD_CONFIG) "$(if $(CMDLINE),$(CMDLINE),console=serial0,115200)"

# Host benchmarks (criterion, against peer crates), boot time, and the in-kernel figures.
ifeq ($(ARCH),arm64)
# The 64-bit kernel: every QEMU benchmark for each VA size of BENCH_VA (default both: 4 levels
# and 3), the in-kernel and process ones under -icount shift=0,sleep=off on raspi3b (the
# reproducible setting there). The host benchmarks (criterion, callgrind) run the same host
# code whatever ARCH says: `make bench` runs them.
BENCH_VA  ?= 48 39
bench-kernels: setup
	@for v in $(BENCH_VA); do \
		$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=$$v MAX_ORDER= FEATURES= || exit 1; done
bench-boot: bench-kernels
	@for v in $(BENCH_VA); do echo "== arm64 VA_BITS=$$v"; \
		ARCH=arm64 KERNEL=build/arm64-$$v/kernel8.img bash scripts/bench-boot.sh || exit 1; done
bench-kernel: bench-kernels
	@for v in $(BENCH_VA); do echo "== arm64 VA_BITS=$$v"; \
		ARCH=arm64 bash scripts/bench-kernel.sh $$v || exit 1; done
bench-proc: bench-kernels
	$(MAKE) --no-print-directory user initramfs ARCH=arm64
	@for v in $(BENCH_VA); do echo "== arm64 VA_BITS=$$v"; \
		ARCH=arm64 bash scripts/bench-proc.sh $$v || exit 1; done
bench: bench-boot bench-kernel bench-proc
# The disk's costs next to arm64 Linux 6.1's (compare-linux-arm64.sh's diskcost phase) for
# each VA size of BENCH_DISK_VA (default 48, Linux's), on build/arm64/sd-512M.img.
BENCH_DISK_VA ?= 48
bench-disk: setup
	$(MAKE) --no-print-directory user initramfs ARCH=arm64
	@for v in $(BENCH_DISK_VA); do \
		$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=$$v MAX_ORDER= FEATURES= || exit 1; done
	$(MAKE) --no-print-directory sd-image ARCH=arm64 VA_BITS=48 MAX_ORDER= FEATURES= SD_SIZE=512M
	@for v in $(BENCH_DISK_VA); do echo "== arm64 VA_BITS=$$v"; \
		ARCH=arm64 VA_BITS=$$v bash scripts/bench-disk.sh || exit 1; done
bench-instructions:
	@echo "make bench-instructions ARCH=arm64: the host benchmark's callgrind counts are host code, the same for both kernels: run make bench-instructions" >&2
	@exit 1
else
bench-boot: kernel
	KERNEL=$(IMG) bash scripts/bench-boot.sh

bench: kernel initramfs
	@bash scripts/setup.sh --bench
	$(if $(MAX_ORDER),PIVM_MAX_ORDER=$(MAX_ORDER),env -u PIVM_MAX_ORDER) cargo bench $(if $(FEATURES),--features $(FEATURES)) \
		--bench buddy --bench kmalloc --bench vmap
	$(if $(MAX_ORDER),PIVM_MAX_ORDER=$(MAX_ORDER),env -u PIVM_MAX_ORDER) FEATURES=$(FEATURES) bash scripts/bench-instructions.sh
	KERNEL=$(IMG) bash scripts/bench-boot.sh
	KERNEL=$(IMG) bash scripts/bench-kernel.sh $(VMSPLIT)
	KERNEL=$(IMG) bash scripts/bench-proc.sh $(VMSPLIT)
endif

# The case study's monkey test: android-a9 (512 MiB lowmem) against android-a9-720m, one boot
# each running SEEDS seeds (default 32) of at most BUDGET steps; the time-to-failure table and
# distributions. With MAX_ORDER= or FEATURES=, the 3G build of that variant.
ifeq ($(ARCH),arm64)
# The 64-bit kernel: the same workload, SEEDS seeds (default 4) on both VA sizes, and what
# its layout shows instead of the 32-bit failure (printed from the live layout).
scenario: setup
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=48
	$(MAKE) --no-print-directory kernel ARCH=arm64 VA_BITS=39
	@for v in 48 39; do echo "== arm64 VA_BITS=$$v"; \
		printf 'scenario vmalloc-frag seeds=$(or $(SEEDS),4)$(if $(BUDGET), budget=$(BUDGET))\npoweroff\n' | \
		timeout 600 qemu-system-aarch64 $(QEMU_ARGS) -monitor none -kernel build/arm64-$$v/kernel8.img | \
		tr -d '\r' | grep -E '^(scenario|time to failure)' || exit 1; done
else
scenario: setup
	$(MAKE) --no-print-directory kernel VMSPLIT=3G
	KERNEL=build/3G$(VARIANT)/kernel7.img SEEDS=$(SEEDS) BUDGET=$(BUDGET) bash scripts/scenario.sh
endif

# Pictures of memory (tools/picture): boot the kernel, capture `memdump` and a process's
# `memdump PID`, draw self-contained HTML pages into build/picture/ (VMSPLIT=, PROFILE=).
PICTURE_DIR ?= build/picture
# ARCH=arm64: the AArch64 kernel of VA_BITS (its 48- or 39-bit layout, no highmem).
picture: kernel initramfs
	ARCH=$(ARCH) KERNEL=$(IMG) PROFILE=$(PROFILE) bash scripts/picture.sh $(PICTURE_DIR)

# The same before and after `scenario vmalloc-frag seed=$(SEED) trace=$(TRACE)` on android-a9
# and android-a9-720m (3G build; STEPS=N is every run's budget): physical maps before/after, the
# timeline, and the time-to-failure distribution of `seeds=$(SEEDS)` from $(FIRST_SEED).
SEED      ?= 1
picture-scenario: setup initramfs
	$(MAKE) --no-print-directory kernel VMSPLIT=3G
	KERNEL=build/3G$(VARIANT)/kernel7.img SEED=$(SEED) STEPS=$(STEPS) TRACE=$(TRACE) SEEDS=$(SEEDS) \
		FIRST_SEED=$(FIRST_SEED) bash scripts/picture.sh --scenario $(PICTURE_DIR)/scenario

# The README's pictures and the tool's test transcripts, from real runs of this kernel:
# make picture (2G), make picture VMSPLIT=3G PROFILE=android-a9, make picture-scenario and
# make picture ARCH=arm64 (VA_BITS=48 and 39),
# their transcripts copied to tests/picture/, screenshots (60%) to docs/pictures/.
picture-docs: setup
	$(MAKE) --no-print-directory picture VMSPLIT=2G PICTURE_DIR=build/picture-docs
	$(MAKE) --no-print-directory picture VMSPLIT=3G PROFILE=android-a9 PICTURE_DIR=build/picture-docs
	$(MAKE) --no-print-directory picture-scenario PICTURE_DIR=build/picture-docs
	$(MAKE) --no-print-directory picture ARCH=arm64 VA_BITS=48 PICTURE_DIR=build/picture-docs
	$(MAKE) --no-print-directory picture ARCH=arm64 VA_BITS=39 PICTURE_DIR=build/picture-docs
	bash scripts/picture-docs.sh build/picture-docs

ifneq ($(ARCH),arm64)
bench-kernel: kernel
	KERNEL=$(IMG) bash scripts/bench-kernel.sh $(VMSPLIT)

# Instructions per major fault from the card (file page, swap-in) and the overcommitted
# workload's guest time, Linux 6.1 next to pivm under -icount (compare-linux's diskcost phase).
bench-disk: setup initramfs
	$(MAKE) --no-print-directory kernel VMSPLIT=$(COMPARE_SPLIT) MAX_ORDER= FEATURES=
	$(MAKE) --no-print-directory sd-image VMSPLIT=$(COMPARE_SPLIT) MAX_ORDER= FEATURES= SD_SIZE=512M
	VMSPLIT=$(COMPARE_SPLIT) bash scripts/bench-disk.sh

# Instructions per process operation (tests/user/vmbench.c) next to Linux 6.1's, under -icount.
bench-proc: kernel initramfs
	KERNEL=$(IMG) bash scripts/bench-proc.sh $(VMSPLIT)

# Instructions per operation of the buddy benchmark's workloads (callgrind; load-independent).
bench-instructions:
	$(if $(MAX_ORDER),PIVM_MAX_ORDER=$(MAX_ORDER),env -u PIVM_MAX_ORDER) FEATURES=$(FEATURES) bash scripts/bench-instructions.sh
endif

include tests/user/user.mk

clean:
	rm -rf build
	cargo clean
