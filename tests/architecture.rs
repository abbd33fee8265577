//! The shape of the house, read from the source: no import loop between
//! modules at any level (a child's import counts for its parent, and a
//! path through a parent's re-export counts for the module it comes
//! from), and the contract suite sees targets only through the wire (no
//! path of `src/contract/` resolves into the mock, the model, the reference
//! service, the faults or the embedded target).
//!
//! The checker works on file texts, so its own tests below feed it small
//! houses with a loop; `ARCH_SRC=DIR` runs it on another tree (on the tree
//! before the admin moved out of the mock it fails: `admin -> mock`,
//! `mock -> admin`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every `.rs` file under `dir`, by its module path (`a/b.rs` and
/// `a/b/mod.rs` are `a::b`), with its text.
fn read_house(dir: &Path) -> BTreeMap<Module, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<Module, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // Generated code is not the house.
                if !path.ends_with("generated") {
                    walk(&path, root, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut module: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                    module.pop();
                }
                out.insert(module, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The code of a file without comments (line comments and doc comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a use tree names: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`,
/// `a::c::e`; `rest` starts right after a `crate::`, `super::` or
/// `self::`.
fn paths(rest: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s.split_at(end)
    }
    /// Reads one use tree at the start of `s` under `path`; returns what
    /// follows it.
    fn tree<'a>(s: &'a str, mut path: Vec<String>, out: &mut Vec<Vec<String>>) -> &'a str {
        let mut s = s.trim_start();
        loop {
            if let Some(mut group) = s.strip_prefix('{') {
                // A group: each item a tree of its own.
                loop {
                    group = group.trim_start();
                    if let Some(after) = group.strip_prefix('}') {
                        return after;
                    }
                    let rest = tree(group, path.clone(), out).trim_start();
                    if rest.len() == group.len() {
                        // Nothing read (a malformed group): stop here.
                        return rest;
                    }
                    group = rest.strip_prefix(',').unwrap_or(rest);
                }
            }
            let (name, tail) = ident(s);
            if name.is_empty() {
                // The end of the path, or a glob (`*`), which names the
                // module itself.
                out.push(path);
                return s.strip_prefix('*').unwrap_or(s);
            }
            path.push(name.to_owned());
            match tail.strip_prefix("::") {
                Some(t) => s = t.trim_start(),
                None => {
                    out.push(path);
                    return tail;
                }
            }
        }
    }
    let mut out = vec![];
    tree(rest, vec![], &mut out);
    out
}

/// Every path a file names through `crate::`, `super::` or `self::`, made
/// absolute, with the line it is on.
fn references(module: &Module, text: &str) -> Vec<(Vec<String>, usize)> {
    let code = code(text);
    let mut out = vec![];
    for (kw, base) in [
        ("crate::", vec![]),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
        ("self::", module.clone()),
    ] {
        for (i, _) in code.match_indices(kw) {
            if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let line = code[..i].matches('\n').count() + 1;
            for p in paths(&code[i + kw.len()..]) {
                out.push((base.iter().cloned().chain(p).collect(), line));
            }
        }
    }
    out
}

/// What each module re-exports: name → the absolute path it stands for.
fn reexports(house: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<Module, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (module, text) in house {
        let code = code(text);
        for (i, _) in code.match_indices("use ") {
            let before = code[..i].trim_end();
            if !(before.ends_with("pub") || before.ends_with(')')) {
                continue;
            }
            let rest = &code[i + 4..];
            let (base, rest) = if let Some(r) = rest.strip_prefix("crate::") {
                (vec![], r)
            } else if let Some(r) = rest.strip_prefix("super::") {
                (module[..module.len().saturating_sub(1)].to_vec(), r)
            } else if let Some(r) = rest.strip_prefix("self::") {
                (module.clone(), r)
            } else {
                // `pub use child::Item;` names a child module.
                (module.clone(), rest)
            };
            for p in paths(rest) {
                if let Some(name) = p.last() {
                    let full: Vec<String> = base.iter().cloned().chain(p.iter().cloned()).collect();
                    out.entry(module.clone())
                        .or_default()
                        .insert(name.clone(), full);
                }
            }
        }
    }
    out
}

/// The module a path leads into: its longest prefix that is a module, or,
/// when that module only re-exports the next name, where that comes from.
fn resolve(
    path: &[String],
    house: &BTreeMap<Module, String>,
    reexports: &BTreeMap<Module, BTreeMap<String, Vec<String>>>,
    depth: usize,
) -> Option<Module> {
    let module = (1..=path.len())
        .rev()
        .map(|i| path[..i].to_vec())
        .find(|p| house.contains_key(p))?;
    if depth < 8
        && let Some(next) = path.get(module.len())
        && let Some(target) = reexports.get(&module).and_then(|r| r.get(next))
        && target.as_slice() != path
    {
        let mut through = target.clone();
        through.extend(path[module.len() + 1..].iter().cloned());
        return resolve(&through, house, reexports, depth + 1).or(Some(module));
    }
    Some(module)
}

/// An edge between two sibling modules, with the line that makes it.
type Edges = BTreeMap<Module, BTreeMap<Module, String>>;

/// The import graph between sibling modules at every level: a reference
/// from `a::x::y` into `a::z::w` is an edge `a::x -> a::z` (and, from
/// `b::c` into `a::z`, `b -> a`). A module's own children and parents are
/// not edges: a parent declares and re-exports its children.
fn edges(house: &BTreeMap<Module, String>) -> Edges {
    let reexports = reexports(house);
    let mut edges = Edges::new();
    for (module, text) in house {
        for (path, line) in references(module, text) {
            let Some(target) = resolve(&path, house, &reexports, 0) else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue;
            }
            let from = module[..=common].to_vec();
            let to = target[..=common].to_vec();
            edges.entry(from).or_default().entry(to).or_insert_with(|| {
                format!("{}:{line} names {}", module.join("::"), path.join("::"))
            });
        }
    }
    edges
}

/// The first loop in the graph, as its edges with their evidence.
fn find_loop(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        m: &Module,
        edges: &Edges,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut cycle: Vec<Module> = stack[i..].to_vec();
            cycle.push(m.clone());
            return Some(
                cycle
                    .windows(2)
                    .map(|w| {
                        format!(
                            "{} -> {} ({})",
                            w[0].join("::"),
                            w[1].join("::"),
                            edges[&w[0]][&w[1]]
                        )
                    })
                    .collect(),
            );
        }
        if !done.insert(m.clone()) {
            return None;
        }
        stack.push(m.clone());
        for t in edges.get(m).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(t, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut vec![], &mut done))
}

fn src() -> BTreeMap<Module, String> {
    let house = read_house(
        &std::env::var("ARCH_SRC")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("src")),
    );
    assert!(house.len() > 40, "read the crate's files: {}", house.len());
    house
}

#[test]
fn no_import_loop_between_modules_at_any_level() {
    let edges = edges(&src());
    assert!(
        edges.values().map(BTreeMap::len).sum::<usize>() > 40,
        "the graph has the crate's imports: {edges:?}"
    );
    if let Some(cycle) = find_loop(&edges) {
        panic!("import loop:\n  {}", cycle.join("\n  "));
    }
}

#[test]
fn the_mock_imports_nothing_of_the_admin() {
    let house = src();
    let edges = edges(&house);
    let mock = vec!["mock".to_string()];
    let admin = vec!["admin".to_string()];
    assert!(edges.contains_key(&mock), "the mock imports something");
    assert!(
        !edges[&mock].contains_key(&admin),
        "mock -> admin: {}",
        edges[&mock][&admin]
    );
    assert!(
        edges.get(&admin).is_some_and(|e| e.contains_key(&mock)),
        "the admin is built on the mock"
    );
}

#[test]
fn contract_sees_targets_only_through_the_wire() {
    let house = src();
    let reexports = reexports(&house);
    let forbidden = ["mock", "service", "fault", "embedded", "admin"];
    let mut found = vec![];
    let mut seen = 0;
    for (module, text) in house
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|m| m == "contract"))
    {
        for (path, line) in references(module, text) {
            seen += 1;
            if let Some(target) = resolve(&path, &house, &reexports, 0)
                && target
                    .first()
                    .is_some_and(|t| forbidden.contains(&t.as_str()))
            {
                found.push(format!(
                    "{}:{line}: {} is in {}",
                    module.join("::"),
                    path.join("::"),
                    target.join("::")
                ));
            }
        }
    }
    assert!(seen > 50, "read the suite's imports: {seen}");
    assert!(
        found.is_empty(),
        "the suite reaches into the mock:\n{}",
        found.join("\n")
    );
}

/// The checker on small houses: the loop this crate had (the mock wiring
/// the admin in, the admin built on the mock), a loop through grouped
/// imports and a parent's re-export, and a house without one.
#[test]
fn the_checker_finds_loops_through_groups_and_re_exports() {
    let house = |files: &[(&str, &str)]| -> BTreeMap<Module, String> {
        files
            .iter()
            .map(|(m, t)| {
                (
                    m.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    t.to_string(),
                )
            })
            .collect()
    };
    // The old mock <-> admin loop, through a child of each.
    let old = house(&[
        ("", "pub mod mock; pub mod admin;"),
        ("mock", "mod order_mock; pub use order_mock::OrderMock;"),
        (
            "mock::order_mock",
            "use crate::admin::{Admin, AdminRouter};\npub struct OrderMock;",
        ),
        (
            "admin",
            "use crate::mock::OrderMock;\npub struct Admin; pub struct AdminRouter;",
        ),
    ]);
    let cycle = find_loop(&edges(&old)).expect("the old loop is found");
    assert!(
        cycle.iter().any(|e| e.starts_with("mock -> admin")),
        "{cycle:?}"
    );
    assert!(
        cycle.iter().any(|e| e.starts_with("admin -> mock")),
        "{cycle:?}"
    );

    // A loop inside a module, through a group and the parent's re-export:
    // `a::x` names `super::Y`, which `a` re-exports from `a::y`; `a::y`
    // names `crate::a::{z::Z, x::X}`.
    let nested = house(&[
        ("", "pub mod a;"),
        ("a", "mod x; mod y; mod z; pub(crate) use y::Y;"),
        ("a::x", "use super::Y;\npub struct X;"),
        ("a::y", "use crate::a::{z::*, x::X};\npub struct Y;"),
        ("a::z", "pub struct Z;"),
    ]);
    let cycle = find_loop(&edges(&nested)).expect("the loop through the re-export is found");
    assert!(
        cycle.iter().any(|e| e.starts_with("a::x -> a::y")),
        "{cycle:?}"
    );

    // The same house without `a::y -> a::x`: no loop.
    let fixed = house(&[
        ("", "pub mod a;"),
        ("a", "mod x; mod y; mod z; pub(crate) use y::Y;"),
        ("a::x", "use super::Y;\npub struct X;"),
        ("a::y", "use crate::a::{z::Z};\npub struct Y;"),
        ("a::z", "pub struct Z;"),
    ]);
    assert_eq!(find_loop(&edges(&fixed)), None);
}
