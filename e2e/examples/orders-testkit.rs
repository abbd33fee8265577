//! The `orders-testkit` command line, built inside this package so that its
//! end-to-end tests can run it (a test can name only its own package's
//! binaries): the same `orders_testkit_cli::main` as the real binary.

fn main() -> std::process::ExitCode {
    orders_testkit_cli::main()
}
