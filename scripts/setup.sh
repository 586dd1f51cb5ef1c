#!/usr/bin/env bash
# Installs what building livc needs besides a Rust toolchain: the FFmpeg
# libraries' headers (video I/O through ffmpeg-next), clang (its bindings are
# generated at build time) and pkg-config. Installs with apt-get when run as
# root on Debian/Ubuntu; elsewhere it names what is missing.
set -euo pipefail
packages="libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libclang-dev clang pkg-config"
have() { pkg-config --exists libavcodec libavformat libavutil libswscale 2>/dev/null && command -v clang >/dev/null; }
if ! command -v pkg-config >/dev/null || ! have; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing the FFmpeg development libraries and clang for the build: $packages"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
    else
        echo "livc needs: $packages (Debian/Ubuntu names; FFmpeg 5.1 or later); install them, then rerun" >&2
        exit 1
    fi
fi
