# The two commands a new user needs: `make serve` and `make test`.
# Both run ./setup first, which installs only what is missing.

SHELL := /bin/bash
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

CARGO_TEST_FLAGS ?=

.PHONY: setup serve build test lint fmt clippy unit e2e bench clean

setup:
	@./setup

## Release build of the server and the wasm console into target/.
build: setup
	cargo leptos build --release

## Build, then start the console on the embedded default (SQLite in ./data,
## demo fleet on first start) at http://127.0.0.1:3000.
serve: build
	./target/release/switchyard serve

## Everything CI runs: formatting, clippy, unit and integration tests
## (SQLite and PostgreSQL), then the browser suite against a release build.
test: setup lint unit e2e

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

## Includes the conformance test against the real `codex app-server`
## (scripts/codex-peer installs it once into .cache/codex-peer/; skipped with
## a message where npm cannot reach the registry).
unit: setup
	cargo test --workspace --exclude frontend $(CARGO_TEST_FLAGS)

## Browser tests through `cargo leptos end-to-end` (release build, then
## Playwright). Every test starts its own server on port 0 with a fresh data
## dir (end2end/tests/fixtures.ts); the server cargo-leptos itself starts is
## pointed at port 0 and a temp dir too, so the suite runs beside `make serve`.
e2e: setup
	SWITCHYARD_BIND=127.0.0.1:0 SWITCHYARD_DATA_DIR=$$(mktemp -d) cargo leptos end-to-end --release

bench: setup
	cargo bench -p engine

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf end2end/test-results
