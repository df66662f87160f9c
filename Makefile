# chatd + chatctl. Two commands on a fresh Debian 12 machine with Swift:
#   make run    install what is missing, build, start RabbitMQ (if none), chat3-sim and chatd
#   make test   install what is missing, start the services the tests need, run the tests, stop them

SWIFT ?= swift
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build deps run test test-only clean

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

clean:
	rm -rf .build .run
