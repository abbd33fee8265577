//! A fault sweep over a checkout client's own test, as in the README:
//! `cargo run --example checkout_sweep --features sweep`. The buggy client
//! (a new idempotency key per retry, RetryInfo ignored) is reported with
//! both bugs; the fixed one survives every cell.

#[path = "checkout/mod.rs"]
mod checkout;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    for fixed in [false, true] {
        let report = checkout::sweep(fixed).await;
        println!(
            "== the {} client\n{report}",
            if fixed { "fixed" } else { "buggy" }
        );
    }
}
