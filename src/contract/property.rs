//! Property runs over async checks: proptest generates the inputs from a
//! reportable seed, and a failing input is shrunk to a minimal
//! counterexample with proptest's value trees.

use std::fmt::Debug;
use std::future::Future;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// What a check saw that the rule does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// The rule broken (`C-1`).
    pub rule: &'static str,
    /// What the rule expects.
    pub expected: String,
    /// What came back.
    pub got: String,
}

impl Deviation {
    /// A mismatch of `rule`.
    pub fn new(rule: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Self {
            rule,
            expected: expected.into(),
            got: got.into(),
        }
    }
}

/// A minimal failing input, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Counterexample {
    /// The rule broken.
    pub rule: String,
    /// The request or requests, shrunk.
    pub input: String,
    /// What the rule expects.
    pub expected: String,
    /// What came back.
    pub got: String,
    /// The seed that replays the run (`verify --seed`).
    pub seed: u64,
    /// How many smaller inputs were tried while shrinking.
    pub shrink_steps: u32,
}

/// 32 bytes of ChaCha seed from a `u64`, the same on every platform.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = crate::grpc::seed::mix(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// What the generating thread asks of the async side.
enum Ask<V> {
    /// Check this input.
    Try(V),
    /// Done: the smallest failing input and the shrink steps, if any failed.
    Done(Option<(String, u32)>),
}

/// Runs `check` first on every boundary case, then on `cases` inputs from
/// `strategy`, drawn from `seed`. On the first failure of a generated
/// input, shrinks (at most `max_shrinks` further calls, and for at most
/// `budget` of wall time) and returns the smallest failing input found.
/// Boundary cases always run, whatever `cases` is, and are reported as
/// they are (they are already the simplest of their kind).
///
/// proptest's value trees are not `Send`, so they live on a thread of
/// their own that hands inputs over; the returned future is `Send`.
pub(crate) async fn forall<S, F, Fut>(
    strategy: S,
    boundaries: Vec<S::Value>,
    cases: u32,
    seed: u64,
    max_shrinks: u32,
    budget: std::time::Duration,
    mut check: F,
) -> Result<u32, Counterexample>
where
    S: Strategy + Send + 'static,
    S::Value: Debug + Send + 'static,
    F: FnMut(S::Value) -> Fut,
    Fut: Future<Output = Result<(), Deviation>>,
{
    let counterexample = |m: Deviation, input: String, steps| Counterexample {
        rule: m.rule.to_string(),
        input,
        expected: m.expected,
        got: m.got,
        seed,
        shrink_steps: steps,
    };
    let n_boundaries = boundaries.len() as u32;
    for value in boundaries {
        let input = format!("{value:#?}");
        if let Err(m) = check(value).await {
            return Err(counterexample(m, input, 0));
        }
    }
    let (ask_tx, mut ask_rx) = tokio::sync::mpsc::channel::<Ask<S::Value>>(1);
    let (failed_tx, failed_rx) = std::sync::mpsc::channel::<bool>();
    std::thread::spawn(move || {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
        );
        // Each send is answered by one `failed` (or the async side is gone).
        let try_value = |tree: &S::Tree| -> Option<bool> {
            ask_tx.blocking_send(Ask::Try(tree.current())).ok()?;
            failed_rx.recv().ok()
        };
        for _ in 0..cases {
            let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                continue;
            };
            match try_value(&tree) {
                None => return,
                Some(false) => continue,
                Some(true) => {}
            }
            // proptest's shrink loop: simplify while it still fails,
            // complicate back when a simplification passes.
            let mut failing = format!("{:#?}", tree.current());
            let mut steps = 0;
            let started = std::time::Instant::now();
            let mut can_go_on = tree.simplify();
            while can_go_on && steps < max_shrinks && started.elapsed() < budget {
                steps += 1;
                match try_value(&tree) {
                    None => return,
                    Some(true) => {
                        failing = format!("{:#?}", tree.current());
                        can_go_on = tree.simplify();
                    }
                    Some(false) => can_go_on = tree.complicate(),
                }
            }
            let _ = ask_tx.blocking_send(Ask::Done(Some((failing, steps))));
            return;
        }
        let _ = ask_tx.blocking_send(Ask::Done(None));
    });
    let mut last_failure: Option<Deviation> = None;
    while let Some(ask) = ask_rx.recv().await {
        match ask {
            Ask::Try(value) => {
                let result = check(value).await;
                let failed = result.is_err();
                if let Err(m) = result {
                    last_failure = Some(m);
                }
                if failed_tx.send(failed).is_err() {
                    break;
                }
            }
            Ask::Done(None) => return Ok(cases + n_boundaries),
            Ask::Done(Some((input, steps))) => {
                let m = last_failure.unwrap_or_else(|| Deviation::new("?", "", ""));
                return Err(counterexample(m, input, steps));
            }
        }
    }
    Ok(cases + n_boundaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shrinks_to_the_boundary_and_replays_by_seed() {
        let run = |seed| {
            forall(
                0u32..1000,
                vec![],
                200,
                seed,
                500,
                std::time::Duration::from_secs(60),
                |n| async move {
                    if n >= 100 {
                        Err(Deviation::new("T-1", "n < 100", n.to_string()))
                    } else {
                        Ok(())
                    }
                },
            )
        };
        let a = run(7).await.unwrap_err();
        assert_eq!(a.input, "100", "shrunk to the smallest failing value");
        assert_eq!(a.got, "100");
        assert_eq!(a.seed, 7);
        assert_eq!(run(7).await.unwrap_err(), a, "the seed replays the run");
        assert_eq!(
            forall(
                0u32..10,
                vec![0, 9],
                50,
                1,
                10,
                std::time::Duration::from_secs(1),
                |_| async { Ok(()) }
            )
            .await,
            Ok(52)
        );
    }
}
