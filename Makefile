# tollgate — build, test, sanitizers, fuzzing, benchmarks.
#
#   make            build ./tollgate
#   make run        build and serve rules/examples/demo.yaml
#   make test       build and run every test (unit, cases, integration, e2e, fuzz corpus replay)
#   make asan       the whole suite under ASan + UBSan (separate build dir)
#   make fuzz       libFuzzer harnesses (clang), FUZZ_SECONDS each
#   make bench      benchmarks, reported as ratios against baselines run alongside
#   make deps       install missing Debian packages (and npm packages for e2e tests)
#
# BUILD selects the output directory so that several builds (release, asan,
# a helper's private tree) never clobber each other's objects.

BUILD   ?= build
CC      ?= cc
PKGS    := libpcre2-8 yaml-0.1 libcjson libcurl openssl libevent libevent_pthreads libevent_openssl
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wundef -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wno-unused-parameter
CFLAGS  ?=
# Where the binary finds rules/ (TOLLGATE_HOME overrides at run time).
DATADIR ?= $(CURDIR)
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -I. -MMD -MP $(SANFLAGS) \
           -DTG_DATA_DIR='"$(DATADIR)"'
LDLIBS  := -lpcre2-8 -lyaml -lcjson -lcurl -levent_openssl -lssl -lcrypto -levent_pthreads -levent -lpthread -lm
LDFLAGS += $(SANFLAGS)

# Every .c under the module directories is part of the library, except the
# CLI entry point; tests and benches link the library.
LIB_SRC := $(sort $(wildcard engine/*.c policy/*.c audit/*.c adapters/*.c adapters/*/*.c))
LIB_SRC := $(filter-out adapters/cli/main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libtollgate.a
BIN     := $(BUILD)/tollgate

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TESTSUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
TESTSUPPORT_OBJ := $(TESTSUPPORT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run deps-run install test test-only tollgate-build-all unit asan valgrind soak kill9 fuzz bench deps clean check-purity lint
all: tollgate

# The default build also leaves ./tollgate at the top, as the contract asks.
tollgate: $(BIN)
ifeq ($(BUILD),build)
	@ln -sf $(BIN) tollgate
endif

$(BIN): $(BUILD)/adapters/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TESTSUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TESTSUPPORT_OBJ) $(LIB) $(LDFLAGS) -lcriterion $(LDLIBS)

# Fuzz harnesses are replayed over their corpus in every test run with a
# tiny main() (tests/fuzz/replay.c), so gcc builds and ASan runs cover them.
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# `make run` and `make test` work on a fresh Debian machine with nothing
# done first: both start with `make deps`, which is a fast no-op when every
# package is present (and installs them, as root, when not).
run: deps-run
	$(MAKE) tollgate
	LISTEN=$(LISTEN) ./scripts/run-demo.sh

unit: $(UNIT_BIN)

# The one test entry point: tests/run.sh runs unit binaries, case files,
# integration scripts, e2e and corpus replays, and prints "N passed, N failed".
test: deps
	$(MAKE) test-only

test-only: tollgate-build-all check-purity
	BUILD=$(BUILD) TOLLGATE=$(CURDIR)/$(BIN) ./tests/run.sh

tollgate-build-all: $(BIN) $(UNIT_BIN) $(FUZZ_REPLAY) $(BENCH_BIN)
ifeq ($(BUILD),build)
	@ln -sf $(BIN) tollgate
endif

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  TG_SANITIZER=asan test-only

# Memcheck on the integration suite: the gateway scripts start `tollgate
# serve` under valgrind (tests/support/gateway.sh); errors or definite leaks
# fail them.  PCRE2 JIT over-reads are suppressed (tests/valgrind.supp).
VALGRIND_SCRIPTS ?= gateway_http gateway_audit privacy_selfcheck adversarial_http
valgrind: tollgate-build-all
	BUILD=$(BUILD) TOLLGATE=$(CURDIR)/$(BIN) TG_VALGRIND=1 TG_SCRIPTS="$(VALGRIND_SCRIPTS)" \
	  ./tests/run.sh integration

# Long reliability runs (issue 7), not part of `make test`: a 10-minute soak
# at 64 connections and 25 kill -9 trials under load.
SOAK_SECONDS ?= 600
soak: $(BIN)
	BUILD=$(BUILD) TOLLGATE=$(CURDIR)/$(BIN) TG_ROOT=$(CURDIR) SOAK_SECONDS=$(SOAK_SECONDS) \
	  SOAK_CONNS=64 bash tests/soak/soak.sh
KILLS ?= 25
kill9: $(BIN)
	BUILD=$(BUILD) TOLLGATE=$(CURDIR)/$(BIN) TG_ROOT=$(CURDIR) KILLS=$(KILLS) bash tests/crash/kill9.sh

# libFuzzer needs clang; each harness runs FUZZ_SECONDS over its corpus.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -DTG_DATA_DIR='"$(CURDIR)"' \
               -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus/$$n build-fuzz/new-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/new-$$n tests/fuzz/corpus/$$n || exit 1; done

bench: tollgate-build-all
	BUILD=$(BUILD) TOLLGATE=$(CURDIR)/$(BIN) ./bench/run.sh

# engine/ is the pure core: no I/O libraries, no sockets, no stdio — in its
# sources (grep) and through its whole link closure (nm, scripts/check-purity.py).
check-purity: $(LIB)
	@python3 scripts/check-purity.py $(BUILD)
	@up=$$(grep -lE '#include "(policy|audit|adapters)/' engine/*.[ch] 2>/dev/null); \
	if [ -n "$$up" ]; then echo "engine/ may not include policy/, audit/ or adapters/: $$up"; exit 1; fi
	@bad=$$(grep -lE '#include *<(curl/|openssl/|event2/|sys/socket|netinet|arpa/|yaml\.h|pthread\.h|time\.h|unistd\.h|fcntl\.h)' engine/*.[ch] 2>/dev/null); \
	bad="$$bad $$(grep -lE '\b(fopen|fprintf|printf|puts|fwrite|fread|getenv|clock_gettime|gettimeofday|time)\s*\(' engine/*.c 2>/dev/null)"; \
	if [ -n "$$(echo $$bad)" ]; then echo "engine/ must stay pure (no I/O, clocks, env): $$bad"; exit 1; fi

deps:
	./scripts/deps.sh test

# What building and serving need, nothing more (`make run`).
deps-run:
	./scripts/deps.sh run

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary (built in its
# own directory with the installed data directory compiled in), the rules,
# docs, an example config and a hardened systemd unit.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SHAREDIR   ?= $(PREFIX)/share/tollgate
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
install:
	$(MAKE) BUILD=build-install DATADIR=$(SHAREDIR) build-install/tollgate
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/docs $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/tollgate
	install -m 0755 build-install/tollgate $(DESTDIR)$(BINDIR)/tollgate
	cp -R rules $(DESTDIR)$(SHAREDIR)/
	install -m 0644 docs/*.md $(DESTDIR)$(SHAREDIR)/docs/
	install -m 0640 rules/examples/demo.yaml $(DESTDIR)$(SYSCONFDIR)/tollgate/tollgate.yaml.example
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DATADIR@|$(SHAREDIR)|g' \
	  packaging/tollgate.service.in >$(DESTDIR)$(UNITDIR)/tollgate.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tollgate.service

clean:
	rm -rf build build-asan build-fuzz build-install .b tollgate

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
