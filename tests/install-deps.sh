#!/usr/bin/env bash
# Installs what the tests need and a fresh Debian machine lacks: gcc and valgrind for the C
# host, a JDK, Gradle, JUnit 5 and SLF4J for the Java facade, rsync for the disk benchmark's
# reference, rustfmt and clippy. Does nothing
# when everything is there. Needs root (or sudo) only when something is missing.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v gradle >/dev/null 2>&1 || need_apt+=(gradle)
[ -f /usr/share/java/junit-platform-console-standalone.jar ] || need_apt+=(junit5)
[ -f /usr/share/java/slf4j-api.jar ] || need_apt+=(libslf4j-java)
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
