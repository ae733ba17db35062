# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# lethe: one top-level build. BPF objects -> skeletons -> liblethe.a -> lethe, tests.
# `make V=1` shows the commands; everything lands under $(OUTPUT).

OUTPUT ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
ARCH := $(shell uname -m | sed 's/x86_64/x86/')

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf json-c
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -I. -I$(OUTPUT) $(shell pkg-config --cflags $(PKGS))
LDLIBS := $(shell pkg-config --libs $(PKGS)) -lelf -lz
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(OUTPUT) \
	-I/usr/include/$(shell uname -m)-linux-gnu

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# liblethe: the restorer, the injection library and the loader's reusable parts.
# The CLI front ends (main, cmd_*, client, daemon) are the lethe binary only.
CLI_SRCS := loader/main.c $(wildcard loader/cmd_*.c loader/client.c loader/daemon.c)
LIB_SRCS := $(wildcard restore/*.c restore/inject/*.c) $(filter-out $(CLI_SRCS),$(wildcard loader/*.c))
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))
CLI_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(CLI_SRCS))
LIB := $(OUTPUT)/liblethe.a
LETHE := $(OUTPUT)/lethe

UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFT_SRCS := $(wildcard tests/bpf/*.c)
E2E_SRCS := $(wildcard tests/e2e/*.c)
E2E_BINS := $(patsubst tests/e2e/%.c,$(OUTPUT)/tests/e2e/%,$(E2E_SRCS))
DEMO_SRCS := $(wildcard tests/demo/*.c)
BENCH_SRCS := $(wildcard bench/*.c)

UNIT_RUNNER := $(OUTPUT)/tests/unit_runner
UNIT_RUNNER_SAN := $(OUTPUT)/tests/unit_runner_san
BPF_RUNNER := $(OUTPUT)/tests/bpf_runner
DEMOS := $(patsubst tests/demo/%.c,$(OUTPUT)/demo/%,$(DEMO_SRCS))
BENCHES := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

PREFIX ?= /usr/local

.PHONY: all test test-unit test-bpf test-e2e clean install demo bench kernel-test static
.DELETE_ON_ERROR:
.SECONDARY:

all: $(LETHE) $(DEMOS) $(UNIT_RUNNER) $(UNIT_RUNNER_SAN) $(BPF_RUNNER) $(E2E_BINS) $(BENCHES)

$(OUTPUT)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)if [ -n "$(VMLINUX_H)" ]; then cp $(VMLINUX_H) $@; \
	else $(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@; fi

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/lethe/events.h $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/obj/%.o: %.c $(SKELS) $(wildcard include/lethe/*.h loader/*.h restore/*.h restore/inject/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/san/%.o: %.c $(SKELS) $(wildcard include/lethe/*.h loader/*.h restore/*.h restore/inject/*.h)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LETHE): $(CLI_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_RUNNER): $(patsubst %.c,$(OUTPUT)/obj/%.o,$(UNIT_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(UNIT_RUNNER_SAN): $(patsubst %.c,$(OUTPUT)/san/%.o,$(UNIT_SRCS) $(LIB_SRCS))
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BPF_RUNNER): $(patsubst %.c,$(OUTPUT)/obj/%.o,$(BPFT_SRCS)) $(LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lpthread

$(OUTPUT)/tests/e2e/%: tests/e2e/%.c $(LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(OUTPUT)/demo/%: tests/demo/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O0 -o $@ $< -lpthread

$(OUTPUT)/bench/%: bench/%.c $(LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# Static builds for the 6.1 QEMU guest of `make kernel-test` (tests/kpatch/): the
# guest is a busybox initramfs with no libc, libbpf or json-c of its own.
STATIC_DIR := $(OUTPUT)/static
STATIC_LDLIBS := -static $(shell pkg-config --static --libs $(PKGS)) -lelf -lz
STATIC_BINS := $(addprefix $(STATIC_DIR)/,lethe rewind_leak fn_runtime leaky bench_kpatch unit_runner bpf_runner)

static: $(STATIC_BINS)

$(STATIC_DIR)/lethe: $(CLI_OBJS) $(LIB)
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDLIBS)

$(STATIC_DIR)/rewind_leak: tests/e2e/rewind_leak.c $(LIB)
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDLIBS)

$(STATIC_DIR)/%: tests/demo/%.c
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O0 -static -o $@ $< -lpthread

$(STATIC_DIR)/unit_runner: $(patsubst %.c,$(OUTPUT)/obj/%.o,$(UNIT_SRCS)) $(LIB)
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDLIBS) -lcunit

$(STATIC_DIR)/bpf_runner: $(patsubst %.c,$(OUTPUT)/obj/%.o,$(BPFT_SRCS)) $(LIB)
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDLIBS) -lpthread

$(STATIC_DIR)/bench_kpatch: bench/bench_kpatch.c $(LIB)
	$(call msg,STATIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDLIBS) -lpthread

demo: $(LETHE) $(DEMOS)
	./scripts/demo.sh

test: all
	./scripts/run-tests.sh

# lethe_kp.ko built against Debian's 6.1 kernel and tested in a QEMU (TCG) guest
kernel-test:
	./tests/kpatch/run.sh

install: $(LETHE)
	install -D -m 0755 $(LETHE) $(DESTDIR)$(PREFIX)/bin/lethe

clean:
	rm -rf $(OUTPUT)
