#!/bin/sh
# Regenerates the committed man pages and shell completions from the CLI definitions and the config
# key table. chatd.8 is written by hand. A test fails when the committed files are stale.
#   usage: scripts/generate-docs.sh [path/to/chatctl]
set -eu
cd "$(dirname "$0")/.."
chatctl=${1:-}
if [ -z "$chatctl" ]; then
    swift build --product chatctl >&2
    chatctl="$(swift build --show-bin-path)/chatctl"
fi
mkdir -p man completions
"$chatctl" _docs chatctl.1 > man/chatctl.1
"$chatctl" _docs chatd.toml.5 > man/chatd.toml.5
"$chatctl" --generate-completion-script bash > completions/chatctl.bash
"$chatctl" --generate-completion-script zsh > completions/_chatctl
"$chatctl" --generate-completion-script fish > completions/chatctl.fish
echo "generated man/chatctl.1 man/chatd.toml.5 completions/chatctl.bash completions/_chatctl completions/chatctl.fish" >&2
