//! The contract suite against the mock's default behaviour: the main job.

use orders_testkit::contract::{CheckStatus, Suite, Target, rules};

#[tokio::test]
async fn every_rule_is_checked_against_the_embedded_mock_and_none_is_skipped() {
    let report = Suite::default().run(Target::embedded()).await;
    println!("{}", report.table());
    report.assert_passed();
    let skipped: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status != CheckStatus::Passed)
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
            .filter(|r| r.status == CheckStatus::Passed)
            .count(),
        2
    );
}

#[test]
fn every_rule_is_written_in_contract_md_with_its_statement_listed() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../CONTRACT.md"))
        .expect("CONTRACT.md ships with the crate");
    let list = Suite::list();
    for rule in rules() {
        assert!(
            text.contains(&format!("\n### {}\n", rule.id)),
            "{} has no section in CONTRACT.md",
            rule.id
        );
        assert!(
            list.contains(rule.statement),
            "{} is not listed with its statement",
            rule.id
        );
        assert!(
            list.contains(&format!("checked by {}:", rule.id)),
            "{} has no check",
            rule.id
        );
    }
    // The client rules the mock judges a consumer by have their own.
    for (id, _) in orders_testkit::conduct::RULES {
        assert!(
            text.contains(&format!("\n### {id}\n")),
            "{id} has no section in CONTRACT.md"
        );
    }
    let sections = text.matches("\n### ").count();
    assert_eq!(
        sections,
        rules().len() + orders_testkit::conduct::RULES.len(),
        "one section per rule, no more"
    );
}

#[test]
fn verify_list_prints_every_rule_and_exits_zero() {
    let out = std::process::Command::new(orders_testkit_e2e::cli_binary())
        .args(["verify", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for rule in rules() {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(rule.id) && l.contains(rule.statement)),
            "{} missing from --list",
            rule.id
        );
    }
}

#[tokio::test]
async fn only_selects_every_rule_id_on_its_own() {
    for id in ["W-2", "W-3", "G-3", "P-3", "P-4", "D-4", "E-7"] {
        let report = Suite::default()
            .cases(1)
            .only([id])
            .run(Target::embedded())
            .await;
        report.assert_passed();
        let ran: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.status != CheckStatus::Skipped)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(ran, [id], "--only {id}");
    }
}

#[tokio::test]
async fn a_fail_fast_threshold_above_the_suites_deadline_is_reported_as_configuration() {
    let mock = orders_testkit::OrderMock::builder()
        .fail_fast(std::time::Duration::from_secs(30))
        .start()
        .await;
    let report = Suite::default()
        .run(Target::channel(mock.new_channel()))
        .await;
    assert_eq!(report.results.len(), 1, "{}", report.table());
    let only = &report.results[0];
    assert_eq!(only.id, "CONNECT");
    let got = &only.counterexample.as_ref().unwrap().got;
    assert!(got.contains("--deadline-ms"), "{got}");
}
