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
