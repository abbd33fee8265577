//! Where a problem is in a scenario file: the error type and the mapping
//! from byte spans to lines.

use std::fmt;
use std::ops::Range;

/// Why a scenario file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file's name as given.
    pub file: String,
    /// The 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// The key of the entry the problem is about, when it names one
    /// (`respond: not a valid orders.v1.Order: …` → `respond`).
    ///
    /// ```
    /// let err = orders_testkit::scenario::StubDefinition::from_json(r#"{"rpc": "GetOrder", "fail": {"code": "GONE", "message": "x"}}"#).unwrap_err();
    /// assert_eq!(err.key(), Some("fail"));
    /// ```
    pub fn key(&self) -> Option<&str> {
        key_of(&self.problem)
    }
}

/// The key a problem starts with (`key: …`), if it starts with one.
pub(super) fn key_of(problem: &str) -> Option<&str> {
    problem
        .split_once(':')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.contains(' '))
}

pub(super) struct SourceText<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl SourceText<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The span of the first `key = …` of `keys` found inside `span`, so that
    /// an error points at the offending line rather than the entry's header.
    pub(super) fn narrow(&self, span: Range<usize>, keys: &[String]) -> Range<usize> {
        // An array-of-tables entry's span may cover only its `[[header]]`:
        // look on to the next header line.
        let start = span.start.min(self.text.len());
        let after_header = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i + 1);
        let end = self.text[after_header..]
            .find("\n[")
            .map_or(self.text.len(), |i| after_header + i)
            .max(span.end.min(self.text.len()));
        let text = &self.text[start..end];
        for key in keys {
            for (i, _) in text.match_indices(key.as_str()) {
                let at_line_start = text[..i].rsplit('\n').next().is_some_and(|before| {
                    before.trim().is_empty()
                        || before.trim_end().ends_with('{')
                        || before.trim_end().ends_with(',')
                });
                let rest = text[i + key.len()..].trim_start();
                if at_line_start && rest.starts_with('=') {
                    return start + i..end;
                }
            }
        }
        span
    }

    pub(super) fn err(&self, span: Range<usize>, problem: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: Some(self.line_of(span.start)),
            problem: problem.into(),
        }
    }
}
