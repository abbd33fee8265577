//! The `orders-testkit` binary (see the `orders_testkit_cli` library).

fn main() -> std::process::ExitCode {
    orders_testkit_cli::main()
}
