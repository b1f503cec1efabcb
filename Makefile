# SPDX-License-Identifier: GPL-2.0-or-later
#
# thinsnap - GNU make build.
#   make              build build/thinsnap and the tool links in build/bin
#   make check        unit tests (cmocka) and CLI tests (bats)
#   make asan         build and run the tests under ASan + UBSan
#   make demo         restore a built-in example, check and dump it
#   make static       a statically linked build-static/thinsnap
#   make check-kernel the kernel tier: qemu boots a real kernel (tests/kernel)
#   make fuzz         libFuzzer targets in build-fuzz/fuzz (clang; tests/fuzz)
#   make install      PREFIX, DESTDIR, SBINDIR, MANDIR are honoured

VERSION := 1.0.0

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Itools -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-DTHINSNAP_VERSION=\"$(VERSION)\"
LDLIBS += -lpthread -lexpat

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

BUILD ?= build
TOOLS := thin_check thin_dump thin_restore thin_rmap snap_check snap_dump \
	snap_restore snap_merge_offline thin_repair snap_repair

LIB_SRCS := $(sort $(wildcard lib/*.c))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
LIBRARY := $(BUILD)/libthinsnap.a
BINARY := $(BUILD)/thinsnap
LINKS := $(TOOLS:%=$(BUILD)/bin/%)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TEST_TOOLS := $(TEST_TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/%)
FUZZ_TARGETS := thin_md thin_xml snap_store snap_xml
FUZZ_COMMON := tests/fuzz/fuzz_common.c
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)
FUZZERS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: all check unit-tests test-tools asan demo install uninstall clean \
	format static check-kernel fuzz fuzzers

all: $(BINARY) $(LINKS) $(TEST_TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -MMD -MP -c -o $@ $<

$(LIBRARY): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BINARY): $(TOOL_OBJS) $(LIBRARY)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(LIBRARY) $(LDLIBS)

$(BUILD)/bin/%: | $(BINARY)
	@mkdir -p $(dir $@)
	ln -sf ../thinsnap $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $< $(LIBRARY) \
		$(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/tools/%.c $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $< $(LIBRARY) $(LDLIBS)

# fuzz targets, run over their corpus without libFuzzer (make check)
$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
		$(FUZZ_COMMON) $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $(filter %.c,$^) \
		$(LIBRARY) $(LDLIBS)

# the same targets linked with libFuzzer (make fuzz)
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -fsanitize=fuzzer -o $@ \
		$(filter %.c,$^) $(LIBRARY) $(LDLIBS)

fuzzers: $(FUZZERS)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" all fuzzers

unit-tests: $(UNIT_BINS)

check: all unit-tests $(FUZZ_REPLAY)
	BUILD=$(BUILD) tests/run-tests.sh

asan:
	$(MAKE) BUILD=build-asan CC=$(CC) \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check

static:
	$(MAKE) BUILD=build-static LDFLAGS="$(LDFLAGS) -static" build-static/thinsnap

KERNEL_PATTERN := $(BUILD)/kernel/pattern
$(KERNEL_PATTERN): tests/kernel/pattern.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -static -o $@ $<

check-kernel: all static $(KERNEL_PATTERN)
	BUILD=$(BUILD) STATIC=build-static/thinsnap tests/kernel/run.sh

demo: all
	@scripts/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPLETIONDIR)
	install -m 755 $(BINARY) $(DESTDIR)$(SBINDIR)/thinsnap
	for t in $(TOOLS); do ln -sf thinsnap $(DESTDIR)$(SBINDIR)/$$t; done
	for m in man8/*.8; do install -m 644 $$m $(DESTDIR)$(MANDIR)/man8/; done
	install -m 644 completions/thinsnap $(DESTDIR)$(COMPLETIONDIR)/thinsnap
	for t in $(TOOLS); do \
		ln -sf thinsnap $(DESTDIR)$(COMPLETIONDIR)/$$t; done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/thinsnap
	for t in $(TOOLS); do rm -f $(DESTDIR)$(SBINDIR)/$$t \
		$(DESTDIR)$(MANDIR)/man8/$$t.8 $(DESTDIR)$(COMPLETIONDIR)/$$t; done
	rm -f $(DESTDIR)$(COMPLETIONDIR)/thinsnap

format:
	clang-format -i $(LIB_SRCS) $(TOOL_SRCS) include/*.h tools/*.h

clean:
	rm -rf build build-asan build-static build-fuzz

-include $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d)
