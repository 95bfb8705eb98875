# The README's commands. Each installs missing Debian packages first (scripts/ensure_deps.sh).
.PHONY: demo test bench mutants clean

# The main job: one real report to an embedded local GA4-compatible collector.
demo:
	@sh scripts/ensure_deps.sh
	@sh scripts/demo.sh

# Everything CI runs: lint, Rust tests, Common Test suites; last line "N passed, N failed".
test:
	@sh scripts/run_tests.sh

bench:
	@sh scripts/ensure_deps.sh
	@sh bench/run.sh

# The mutation check: a fixed list of deliberate breaks, each against its suites (not in CI;
# about an hour; the last result is in RELIABILITY.md).
mutants:
	@sh scripts/ensure_deps.sh
	@sh scripts/mutants.sh

clean:
	rm -rf _build target priv/*.so
