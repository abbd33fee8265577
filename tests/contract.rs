//! The contract suite against the mock's default behaviour: the main job.

use orders_testkit::contract::{Status, Suite, Target, rules};

#[tokio::test]
async fn every_rule_is_checked_against_the_embedded_mock_and_none_is_skipped() {
    let report = Suite::default().run(Target::embedded()).await;
    println!("{}", report.table());
    report.assert_passed();
    let skipped: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| format!("{} ({:?})", r.id, r.note))
        .collect();
    assert!(skipped.is_empty(), "not run: {skipped:?}");
    for rule in rules() {
        assert!(
            report.results.iter().any(|r| r.id == rule.id),
            "{} has no line in the report",
            rule.id
        );
    }
    assert_eq!(report.results.len(), rules().len(), "one line per rule id");
}

#[tokio::test]
async fn run_is_send_and_can_be_spawned() {
    let handle = tokio::spawn(async {
        Suite::default()
            .cases(1)
            .only(["G-1", "W-3"])
            .run(Target::embedded())
            .await
    });
    let report = handle.await.expect("the run completes");
    report.assert_passed();
    assert_eq!(
        report
            .results
            .iter()
            .filter(|r| r.status == Status::Passed)
            .count(),
        2
    );
}
