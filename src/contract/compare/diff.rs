//! Two recordings side by side: each facet that differs, classified by
//! what the contract says of it, and shown for review like a snapshot diff.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::observe::{Facet, Observed};

/// How much a difference matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Change {
    /// The contract fixes what differs (a code, a detail type, a field's
    /// presence, a stream's order or length, deadline behaviour): the new
    /// version breaks clients that rely on it.
    Breaking,
    /// The contract leaves it to the server (a message's words): legal,
    /// but a client that parsed it would notice.
    Risky,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::Breaking => "BREAKING",
            Change::Risky => "risky",
        })
    }
}

/// One facet of one step that differs between the baseline and the new
/// version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Difference {
    /// Breaking or risky.
    pub change: Change,
    /// The rule that fixes the facet (or leaves it open), as in CONTRACT.md.
    pub rule: String,
    /// The sequence (0: the boundary cases) and the step in it.
    pub sequence: u32,
    /// The step in its sequence, from 0.
    pub step: u32,
    /// The step as sent, normalised (`GetOrder order@s3`).
    pub input: String,
    /// What differs (`code`, `result[2]`, `message[1]`).
    pub facet: String,
    /// The baseline's value; `None` when it had no such facet.
    pub baseline: Option<String>,
    /// The new version's value; `None` when it has no such facet.
    pub new: Option<String>,
}

/// What a behaviour comparison found.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::contract::{Suite, Target};
///
/// let diff = Suite::default()
///     .compare(Target::embedded(), Target::embedded())
///     .await
///     .unwrap();
/// assert!(diff.differences.is_empty(), "{}", diff.render());
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BehaviourDiff {
    /// The baseline, as given.
    pub baseline: String,
    /// The new version, as given.
    pub new: String,
    /// The seed of the sequences.
    pub seed: u64,
    /// How many steps both ran.
    pub steps: usize,
    /// Every facet that differs, by sequence and step, the breaking ones of
    /// a step first.
    pub differences: Vec<Difference>,
    /// Facets that differed between two runs of the baseline itself, and
    /// so were not compared.
    pub unstable: usize,
}

impl BehaviourDiff {
    /// Whether any difference breaks the contract.
    pub fn breaking(&self) -> bool {
        self.differences
            .iter()
            .any(|d| d.change == Change::Breaking)
    }

    /// The diff as JSON (`verify --json` of a comparison).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Panics with the rendered diff when a difference breaks the contract.
    #[track_caller]
    pub fn assert_no_breaking(&self) {
        assert!(!self.breaking(), "{}", self.render());
    }

    /// The diff for review: each step that differs with its input, each
    /// facet with `-` the baseline and `+` the new version, then a summary
    /// line.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "behaviour compared: baseline {} (run twice), new {}; seed {}, {} steps\n",
            self.baseline, self.new, self.seed, self.steps
        );
        let mut last: Option<(u32, u32)> = None;
        for d in &self.differences {
            if last != Some((d.sequence, d.step)) {
                let _ = writeln!(
                    out,
                    "\nsequence {}, step {}: {}",
                    d.sequence, d.step, d.input
                );
                last = Some((d.sequence, d.step));
            }
            let _ = writeln!(out, "  {} {} ({}):", d.change, d.facet, d.rule);
            let _ = writeln!(out, "    - {}", d.baseline.as_deref().unwrap_or("(absent)"));
            let _ = writeln!(out, "    + {}", d.new.as_deref().unwrap_or("(absent)"));
        }
        let count = |c: Change| self.differences.iter().filter(|d| d.change == c).count();
        let differing: BTreeSet<(u32, u32)> = self
            .differences
            .iter()
            .map(|d| (d.sequence, d.step))
            .collect();
        let _ = writeln!(
            out,
            "\n{}: {} breaking, {} risky; {} of {} steps the same; {} facets unstable in the baseline (not compared)",
            if self.breaking() { "BREAKING" } else { "ok" },
            count(Change::Breaking),
            count(Change::Risky),
            self.steps - differing.len(),
            self.steps,
            self.unstable
        );
        out
    }
}

/// The facets of a run, by (sequence, step, facet name).
pub(super) type Keyed<'a> = BTreeMap<(u32, u32, &'a str), &'a Facet>;

pub(super) fn keyed(run: &[Observed]) -> Keyed<'_> {
    run.iter()
        .flat_map(|o| {
            o.facets
                .iter()
                .map(move |f| ((o.sequence, o.step, f.name.as_str()), f))
        })
        .collect()
}

/// The facets that differ between two runs of one target.
pub(super) fn unstable(a: &[Observed], b: &[Observed]) -> BTreeSet<(u32, u32, String)> {
    let (a, b) = (keyed(a), keyed(b));
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k).map(|f| &f.value) != b.get(*k).map(|f| &f.value))
        .map(|(s, t, n)| (*s, *t, n.to_string()))
        .collect()
}

/// Every facet that differs, except the unstable ones, classified.
pub(super) fn differences(
    baseline: &[Observed],
    new: &[Observed],
    unstable: &BTreeSet<(u32, u32, String)>,
) -> Vec<Difference> {
    let inputs: BTreeMap<(u32, u32), &str> = baseline
        .iter()
        .chain(new)
        .map(|o| ((o.sequence, o.step), o.input.as_str()))
        .collect();
    let (old, now) = (keyed(baseline), keyed(new));
    let keys: BTreeSet<_> = old.keys().chain(now.keys()).collect();
    let mut out: Vec<Difference> = keys
        .into_iter()
        .filter(|(s, t, n)| !unstable.contains(&(*s, *t, n.to_string())))
        .filter_map(|k| {
            let (a, b) = (old.get(k), now.get(k));
            if a.map(|f| &f.value) == b.map(|f| &f.value) {
                return None;
            }
            let facet = a.or(b)?;
            Some(Difference {
                change: if facet.open {
                    Change::Risky
                } else {
                    Change::Breaking
                },
                rule: facet.rule.clone(),
                sequence: k.0,
                step: k.1,
                input: inputs.get(&(k.0, k.1)).copied().unwrap_or("").to_string(),
                facet: k.2.to_string(),
                baseline: a.map(|f| f.value.clone()),
                new: b.map(|f| f.value.clone()),
            })
        })
        .collect();
    out.sort_by_key(|d| (d.sequence, d.step, d.change));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(facets: &[(&str, &str, bool)]) -> Vec<Observed> {
        vec![Observed {
            sequence: 0,
            step: 4,
            input: "GetOrder order@s3".into(),
            facets: facets
                .iter()
                .map(|(name, value, open)| Facet {
                    name: name.to_string(),
                    value: value.to_string(),
                    rule: "G-2".into(),
                    open: *open,
                })
                .collect(),
        }]
    }

    #[test]
    fn fixed_facets_that_differ_are_breaking_open_ones_risky() {
        let old = step(&[("code", "NotFound", false), ("words", "a", true)]);
        let new = step(&[("code", "Internal", false), ("words", "b", true)]);
        let d = differences(&old, &new, &BTreeSet::new());
        assert_eq!(
            d.iter()
                .map(|d| (d.change, d.facet.as_str()))
                .collect::<Vec<_>>(),
            [(Change::Breaking, "code"), (Change::Risky, "words")]
        );
        assert_eq!(d[0].baseline.as_deref(), Some("NotFound"));
        assert_eq!(d[0].new.as_deref(), Some("Internal"));
    }

    #[test]
    fn a_facet_only_one_side_has_differs_and_unstable_ones_are_not_compared() {
        let old = step(&[("code", "Ok", false), ("message[1]", "x", false)]);
        let new = step(&[("code", "Ok", false)]);
        let d = differences(&old, &new, &BTreeSet::new());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].new, None);
        let skip = BTreeSet::from([(0, 4, "message[1]".to_string())]);
        assert!(differences(&old, &new, &skip).is_empty());
        assert_eq!(unstable(&old, &new), skip);
    }
}
