# The README's commands. Each installs missing Debian packages first (scripts/ensure_deps.sh).
.PHONY: demo test bench mutants clean mongooseim-e2e

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

# A real MongooseIM 6.2.1 built here, as released and adopted with this checkout, each booted
# and reporting to a loopback collector; last line "N passed, N failed". Part of `test` when
# MSM_E2E=1 (CI sets it).
mongooseim-e2e:
	@sh scripts/ensure_deps.sh
	@sh scripts/mongooseim-e2e.sh

# The mutation check: a fixed list of deliberate breaks, each against its suites (not in CI;
# about an hour; the last result is in RELIABILITY.md).
mutants:
	@sh scripts/ensure_deps.sh
	@sh scripts/mutants.sh

clean:
	rm -rf _build target priv/*.so
