//! Property runs over async checks: proptest generates the inputs from a
//! reportable seed, and a failing input is shrunk to a minimal
//! counterexample with proptest's value trees.

use std::fmt::Debug;
use std::future::Future;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// What a check saw that the rule does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The rule broken (`C-1`).
    pub rule: &'static str,
    /// What the rule expects.
    pub expected: String,
    /// What came back.
    pub got: String,
}

impl Mismatch {
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
        x = crate::fault::mix_seed(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// Runs `check` on `cases` inputs from `strategy`, drawn from `seed`. On the
/// first failure, shrinks (at most `max_shrinks` further calls, and for at
/// most `budget` of wall time) and returns the smallest failing input found.
pub(crate) async fn forall<S, F, Fut>(
    strategy: S,
    cases: u32,
    seed: u64,
    max_shrinks: u32,
    budget: std::time::Duration,
    mut check: F,
) -> Result<u32, Counterexample>
where
    S: Strategy,
    S::Value: Debug,
    F: FnMut(S::Value) -> Fut,
    Fut: Future<Output = Result<(), Mismatch>>,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
    );
    for case in 0..cases {
        let Ok(mut tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let first = check(tree.current()).await;
        let Err(mut failure) = first else { continue };
        let mut failing_input = format!("{:#?}", tree.current());
        let mut steps = 0;
        // proptest's shrink loop: simplify while it still fails, complicate
        // back when a simplification passes.
        let started = std::time::Instant::now();
        let mut can_go_on = tree.simplify();
        while can_go_on && steps < max_shrinks && started.elapsed() < budget {
            steps += 1;
            match check(tree.current()).await {
                Err(f) => {
                    failure = f;
                    failing_input = format!("{:#?}", tree.current());
                    can_go_on = tree.simplify();
                }
                Ok(()) => can_go_on = tree.complicate(),
            }
        }
        let _ = case;
        return Err(Counterexample {
            rule: failure.rule.to_string(),
            input: failing_input,
            expected: failure.expected,
            got: failure.got,
            seed,
            shrink_steps: steps,
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shrinks_to_the_boundary_and_replays_by_seed() {
        let run = |seed| {
            forall(
                0u32..1000,
                200,
                seed,
                500,
                std::time::Duration::from_secs(60),
                |n| async move {
                    if n >= 100 {
                        Err(Mismatch::new("T-1", "n < 100", n.to_string()))
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
                50,
                1,
                10,
                std::time::Duration::from_secs(1),
                |_| async { Ok(()) }
            )
            .await,
            Ok(50)
        );
    }
}
