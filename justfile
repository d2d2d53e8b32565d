# Developer recipes. The README's two commands work without `just`.

# Start scim-api on the embedded SQLite default and print a Tenant URL and Secret Token for tenant "acme".
run:
    cargo run --release -p scim-api -- --bootstrap-tenant acme

# The whole test suite; PostgreSQL tests run when 127.0.0.1:5432 answers (start it if it is down).
test:
    pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect 15 main start || true
    cargo test --workspace

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# scim-core must stay free of I/O crates.
deps:
    scripts/check-core-purity.sh

bench:
    cargo bench -p scim-core
    cargo bench -p storage

# The external compliance suite against fresh servers on SQLite and PostgreSQL.
conformance:
    scripts/conformance.sh sqlite
    scripts/conformance.sh postgres

# Coverage-guided fuzzing of the filter, PATCH and validation parsers (10 minutes per target).
fuzz:
    scripts/fuzz.sh 600

# Property-based HTTP testing against the served OpenAPI description.
schemathesis:
    scripts/schemathesis.sh

# kill -9 under load on SQLite, PostgreSQL and two replicas; every acknowledged write must survive.
crash-test:
    scripts/crash-test.sh all

deploy-check:
    deploy/check.sh

ci:
    bash .ci/run
