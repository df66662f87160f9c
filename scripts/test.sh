#!/usr/bin/env bash
# `make test`: start RabbitMQ for the tests (the MongoDB stand-in, chat3-sim and chatd are started
# by the test fixtures themselves, per test, by PID), run every test, stop what was started.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
state=.run/rabbitmq.test-state
scripts/rabbitmq.sh start "$state"
trap 'scripts/rabbitmq.sh stop "$state"' EXIT
# libmongoc, linked into the test process, chatd and chatctl, makes a shared-memory segment per process
# when it is loaded and warns on stderr when a killed process left one under a reused pid.
export MONGOC_DISABLE_SHM=1
swift build --build-tests
# The integration tests drive the real binaries; they find them in the build folder.
export CHATD_BIN_DIR="$(swift build --show-bin-path)"
swift test --skip-build "$@"
