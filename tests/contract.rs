//! The contract suite against the mock's default behaviour.

use orders_testkit::contract::{Status, Suite, Target};

#[tokio::test]
async fn suite_passes_against_the_embedded_mock() {
    let report = Suite::default().run(Target::embedded()).await;
    println!("{}", report.table());
    report.assert_passed();
    assert!(
        report
            .results
            .iter()
            .filter(|r| r.status == Status::Passed)
            .count()
            >= 30
    );
}
