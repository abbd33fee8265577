//! Behaviour compared between two versions of a service: the same seeded
//! sequences (all four streaming patterns) against both, what each did
//! written down with server-chosen values normalised, and every difference
//! classified by CONTRACT.md: breaking where the contract fixes what
//! differs, risky where it leaves the server a choice. The baseline runs
//! twice first; what differs between its own two runs is not compared.

mod diff;
mod observe;
mod script;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use diff::{BehaviourDiff, Change, Difference};

use super::suite::Suite;
use super::target::{ConnectError, Target};
use observe::Observed;

/// What the format of a recording is called in its file.
const FORMAT: &str = "orders-testkit behaviour 1";

/// What one version of the service did with a seed's sequences: every
/// step's facets, and those that differed between two runs of it. Saved as
/// JSON ([`to_json`](Self::to_json), `verify --record-behaviour`) and
/// compared with later versions ([`Suite::compare_with`],
/// `verify --against-behaviour`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::contract::{Recording, Suite, Target};
///
/// // Record the released version once (`verify --record-behaviour FILE`)…
/// let suite = Suite::default().seed(7).sequences(4);
/// let released = suite.record_behaviour(Target::embedded()).await.unwrap();
/// let saved = released.to_json();
/// // …and compare each candidate with it (`verify --against-behaviour FILE`).
/// let baseline = Recording::from_json(&saved).unwrap();
/// let diff = suite.compare_with(&baseline, Target::embedded()).await.unwrap();
/// diff.assert_no_breaking();
/// # }
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recording {
    format: String,
    /// The target recorded, as given.
    pub target: String,
    /// The seed of the sequences.
    pub seed: u64,
    /// How many sequences ran.
    pub sequences: u32,
    steps: Vec<Observed>,
    unstable: BTreeSet<(u32, u32, String)>,
}

impl Recording {
    /// The recording as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A recording written by [`to_json`](Self::to_json); an error says
    /// what is wrong with the text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let recording: Recording =
            serde_json::from_str(text).map_err(|e| format!("not a behaviour recording: {e}"))?;
        if recording.format != FORMAT {
            return Err(format!(
                "a behaviour recording of format {:?}; this version reads {FORMAT:?}",
                recording.format
            ));
        }
        Ok(recording)
    }

    /// How many steps were recorded.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }
}

impl Suite {
    /// Runs the behaviour sequences of the suite's seed against `target`
    /// twice and records what it did (the facets that differ between the
    /// two runs are marked unstable).
    pub async fn record_behaviour(&self, target: Target) -> Result<Recording, ConnectError> {
        let script = script::sequences(self.seed, self.sequences);
        let connected = target.connect().await?;
        let first = self.ctx(connected.channel.clone(), &target, None).await?;
        let a = observe::run(&first, &script).await;
        let second = self.ctx(connected.channel, &target, None).await?;
        let b = observe::run(&second, &script).await;
        Ok(Recording {
            format: FORMAT.into(),
            target: target.describe(),
            seed: self.seed,
            sequences: self.sequences,
            unstable: diff::unstable(&a, &b),
            steps: a,
        })
    }

    /// Compares `new` with `baseline`: the baseline recorded (twice), then
    /// the new version run with the same sequences.
    pub async fn compare(
        &self,
        baseline: Target,
        new: Target,
    ) -> Result<BehaviourDiff, ConnectError> {
        let recording = self.record_behaviour(baseline).await?;
        self.compare_with(&recording, new).await
    }

    /// Compares `new` with a recording, with the recording's seed and
    /// number of sequences.
    pub async fn compare_with(
        &self,
        baseline: &Recording,
        new: Target,
    ) -> Result<BehaviourDiff, ConnectError> {
        let script = script::sequences(baseline.seed, baseline.sequences);
        let connected = new.connect().await?;
        let ctx = self.ctx(connected.channel, &new, None).await?;
        let now = observe::run(&ctx, &script).await;
        Ok(BehaviourDiff {
            baseline: baseline.target.clone(),
            new: new.describe(),
            seed: baseline.seed,
            steps: baseline.steps.len(),
            differences: diff::differences(&baseline.steps, &now, &baseline.unstable),
            unstable: baseline.unstable.len(),
        })
    }
}
