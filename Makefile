# chatd + chatctl. Two commands on a fresh Debian 12 machine with Swift:
#   make run    install what is missing, build, start RabbitMQ (if none), chat3-sim and chatd
#   make test   install what is missing, start the services the tests need, run the tests, stop them

SWIFT ?= swift
PREFIX ?= /usr/local
DESTDIR ?=

BUILD_CONFIG ?= release

.PHONY: all build deps run test install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build

run: deps
	$(SWIFT) build
	@scripts/run.sh

test: deps
	@scripts/test.sh

# Binaries, man pages, completions, the systemd unit, the sysusers.d entry (user and group chatd) and the
# example config, under $(DESTDIR)$(PREFIX). Run `systemd-sysusers` afterwards (packages do it for you).
# BIN_DIR=path installs already-built binaries instead of building them.
install:
	@if [ -z "$(BIN_DIR)" ]; then $(SWIFT) build -c $(BUILD_CONFIG) --product chatd && \
	  $(SWIFT) build -c $(BUILD_CONFIG) --product chatctl; fi
	@bin="$(BIN_DIR)"; [ -n "$$bin" ] || bin="$$($(SWIFT) build -c $(BUILD_CONFIG) --show-bin-path)"; \
	root="$(DESTDIR)$(PREFIX)"; \
	install -d "$$root/bin" "$$root/share/man/man1" "$$root/share/man/man5" "$$root/share/man/man8" \
	  "$$root/share/bash-completion/completions" "$$root/share/zsh/site-functions" \
	  "$$root/share/fish/vendor_completions.d" "$$root/lib/systemd/system" "$$root/lib/sysusers.d" "$$root/share/doc/chatd" && \
	install -m 0755 "$$bin/chatd" "$$bin/chatctl" "$$root/bin/" && \
	for page in man/*.1; do [ -f "$$page" ] && install -m 0644 "$$page" "$$root/share/man/man1/"; done; \
	for page in man/*.5; do [ -f "$$page" ] && install -m 0644 "$$page" "$$root/share/man/man5/"; done; \
	for page in man/*.8; do [ -f "$$page" ] && install -m 0644 "$$page" "$$root/share/man/man8/"; done; \
	[ -f completions/chatctl.bash ] && install -m 0644 completions/chatctl.bash "$$root/share/bash-completion/completions/chatctl"; \
	[ -f completions/_chatctl ] && install -m 0644 completions/_chatctl "$$root/share/zsh/site-functions/_chatctl"; \
	[ -f completions/chatctl.fish ] && install -m 0644 completions/chatctl.fish "$$root/share/fish/vendor_completions.d/chatctl.fish"; \
	sed 's|/usr/local|$(PREFIX)|g' deploy/chatd.service > "$$root/lib/systemd/system/chatd.service" && \
	chmod 0644 "$$root/lib/systemd/system/chatd.service" && \
	install -m 0644 deploy/chatd.sysusers "$$root/lib/sysusers.d/chatd.conf" && \
	install -m 0644 deploy/chatd.toml "$$root/share/doc/chatd/chatd.toml.example" && \
	echo "installed under $$root"

clean:
	rm -rf .build .run
