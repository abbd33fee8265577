//! The shape of the house: the contract suite sees targets only through the
//! wire, so no file of `src/contract/` imports the mock, the model, the
//! reference service or the fault module.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn contract_imports_nothing_from_mock_model_service_or_fault() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/contract");
    let mut files = vec![];
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "found the suite's files: {files:?}");
    let forbidden = [
        "crate::mock",
        "crate::model",
        "crate::service",
        "crate::fault",
        "crate::OrderMock",
        "crate::embedded",
    ];
    let mut found = vec![];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for f in forbidden {
                if code.contains(f) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, code));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the suite reaches into the mock:\n{}",
        found.join("\n")
    );
}

/// The module of each file: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn modules() -> std::collections::BTreeMap<Vec<String>, std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&root, &mut files);
    files
        .into_iter()
        .filter(|p| !p.ends_with("main.rs"))
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            (parts, p)
        })
        .collect()
}

#[test]
fn no_import_cycle_between_files_in_src() {
    let mods = modules();
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|i| path[..i].to_vec())
            .find(|p| mods.contains_key(p))
    };
    // An edge from a file to every other module it names, parents and
    // children aside (a parent declares and re-exports its children).
    let mut edges: std::collections::BTreeMap<Vec<String>, Vec<Vec<String>>> = Default::default();
    for (m, path) in &mods {
        let text = std::fs::read_to_string(path).unwrap();
        let mut out = vec![];
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for (kw, base) in [
                ("crate::", vec![]),
                ("super::", m[..m.len().saturating_sub(1)].to_vec()),
            ] {
                for (i, _) in line.match_indices(kw) {
                    if line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let rest: Vec<String> = line[i + kw.len()..]
                        .split("::")
                        .map(|s| {
                            s.chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect::<String>()
                        })
                        .take_while(|s| !s.is_empty())
                        .collect();
                    let full: Vec<String> = base.iter().cloned().chain(rest).collect();
                    if let Some(t) = resolve(&full)
                        && &t != m
                        && !t.starts_with(m)
                        && !m.starts_with(&t)
                    {
                        out.push(t);
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        edges.insert(m.clone(), out);
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &Vec<String>,
        edges: &std::collections::BTreeMap<Vec<String>, Vec<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut std::collections::BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            return Some(stack[i..].iter().map(|p| p.join("::")).collect());
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.clone());
        for t in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(t, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(m.clone());
        None
    }
    let mut done = Default::default();
    for m in mods.keys() {
        if let Some(cycle) = visit(m, &edges, &mut vec![], &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    assert!(mods.len() > 40, "read the crate's files: {}", mods.len());
}
