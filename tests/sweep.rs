//! The fault sweep over the worked example's checkout client: the buggy
//! client's two planted bugs are reported (a retry with a new idempotency
//! key makes a lost answer two orders; a retry sooner than RetryInfo
//! asks), and the fixed client survives every cell and schedule. Runs on
//! tokio's paused clock.
#![cfg(feature = "sweep")]

#[path = "../examples/checkout/mod.rs"]
mod checkout;

#[tokio::test(start_paused = true)]
async fn the_sweep_finds_both_planted_bugs_of_the_buggy_checkout() {
    let report = checkout::sweep(false).await;
    println!("{report}");
    assert!(!report.survived());
    let failed = |site: &str, fault: &str| {
        report
            .failures()
            .into_iter()
            .find(|c| c.site == site && c.fault.starts_with(fault))
            .map(|c| format!("{:?}", c.verdict))
            .unwrap_or_default()
    };
    // Bug 1: the lost answer, retried with a new key, is two orders.
    let lost = failed("CreateOrder #1", "lost answer");
    assert!(lost.contains("became two orders"), "{lost}\n{report}");
    // Bug 2: RetryInfo asked for 250 ms, the retry came after 100 ms.
    let early = failed("CreateOrder #1", "RESOURCE_EXHAUSTED with RetryInfo");
    assert!(early.contains("CL-3"), "{early}\n{report}");
    // Each is a schedule of one fault; schedules add at most two.
    assert!(report.schedules.iter().all(|s| s.schedule.len() <= 2));
}

#[tokio::test(start_paused = true)]
async fn the_fixed_checkout_survives_every_cell() {
    let report = checkout::sweep(true).await;
    println!("{report}");
    report.assert_survived();
    assert_eq!(report.sites, ["CreateOrder #1", "CreateOrder #2"]);
    assert!(report.cells.len() >= 20, "{report}");
    assert!(!report.budget_hit);
}

#[tokio::test(start_paused = true)]
async fn the_sweep_junit_has_one_testcase_per_cell() {
    let report = checkout::sweep(false).await;
    let xml = report.to_junit();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit XML");
    let cases: Vec<_> = parsed
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    assert_eq!(cases.len(), report.cells.len() + report.schedules.len());
    let failed = cases
        .iter()
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .count();
    assert_eq!(failed, report.failures().len() + report.schedules.len());
    assert!(
        cases.iter().any(|c| c.name.as_str()
            == "CreateOrder #1 × lost answer (UNAVAILABLE after the work was done)")
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), report.cells.len());
}

#[tokio::test(start_paused = true)]
async fn an_accepted_cell_is_listed_and_fails_nothing() {
    use orders_testkit::sweep::Sweep;
    let lost = "lost answer (UNAVAILABLE after the work was done)";
    let report = Sweep::new()
        .schedules(0)
        .accept("CreateOrder #1", lost)
        .run(|mock| checkout::checkout_test(mock, false))
        .await;
    let cell = report
        .cells
        .iter()
        .find(|c| c.site == "CreateOrder #1" && c.fault == lost)
        .unwrap();
    assert!(cell.accepted && cell.verdict.failed());
    assert!(
        !report
            .failures()
            .iter()
            .any(|c| c.fault == lost && c.site == "CreateOrder #1")
    );
    assert!(
        report.to_string().contains("acc  CreateOrder #1"),
        "{report}"
    );
}
