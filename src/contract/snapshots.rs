//! `verify --snapshots DIR`: the error payload of each error scenario as an
//! insta snapshot file, ids redacted, so that a reviewer can diff a
//! target's error payloads between runs.
//!
//! The first run writes `DIR/<scenario>.snap`. Later runs leave unchanged
//! snapshots alone and write `DIR/<scenario>.snap.new` next to a changed
//! one. Review with `cargo insta review --workspace-root DIR` (cargo-insta),
//! or by hand: `diff DIR/x.snap DIR/x.snap.new`, then `mv` to accept.

use std::path::Path;

/// What a snapshot write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotSummary {
    /// Snapshots written for the first time.
    pub new: Vec<String>,
    /// Snapshots whose payload is as accepted.
    pub unchanged: Vec<String>,
    /// Snapshots whose payload changed: a `.snap.new` waits for review.
    pub changed: Vec<String>,
}

fn file_text(name: &str, body: &str) -> String {
    format!("---\nsource: orders-testkit verify\nexpression: {name}\n---\n{body}\n")
}

fn body_of(text: &str) -> &str {
    // The body follows the second `---` line of the header.
    let mut parts = text.splitn(3, "---\n");
    let _ = parts.next();
    let _ = parts.next();
    parts.next().unwrap_or("").trim_end()
}

/// Writes `payloads` (name, rendered payload) into `dir` as insta snapshots.
///
/// ```
/// use orders_testkit::contract::write_snapshots;
///
/// let dir = std::env::temp_dir().join(format!("snap-doc-{}", std::process::id()));
/// let first = write_snapshots(&dir, &[("G-2".into(), "{\"code\": \"NOT_FOUND\"}".into())]).unwrap();
/// assert_eq!(first.new, ["G-2"]);
/// let again = write_snapshots(&dir, &[("G-2".into(), "{\"code\": \"NOT_FOUND\"}".into())]).unwrap();
/// assert_eq!(again.unchanged, ["G-2"]);
/// let changed = write_snapshots(&dir, &[("G-2".into(), "{\"code\": \"INTERNAL\"}".into())]).unwrap();
/// assert_eq!(changed.changed, ["G-2"]);
/// assert!(dir.join("G-2.snap.new").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_snapshots(
    dir: &Path,
    payloads: &[(String, String)],
) -> std::io::Result<SnapshotSummary> {
    std::fs::create_dir_all(dir)?;
    let mut summary = SnapshotSummary::default();
    for (name, body) in payloads {
        let file = dir.join(format!("{name}.snap"));
        let pending = dir.join(format!("{name}.snap.new"));
        match std::fs::read_to_string(&file) {
            Ok(existing) if body_of(&existing) == body.trim_end() => {
                let _ = std::fs::remove_file(&pending);
                summary.unchanged.push(name.clone());
            }
            Ok(_) => {
                std::fs::write(&pending, file_text(name, body))?;
                summary.changed.push(name.clone());
            }
            Err(_) => {
                std::fs::write(&file, file_text(name, body))?;
                summary.new.push(name.clone());
            }
        }
    }
    Ok(summary)
}
