//! The library's layers only point down: no two of `src/`'s top-level modules import each other,
//! directly or through a chain, and every import names the module that defines the item (not
//! the crate root's re-export, which would hide the edge). Run with `--nocapture` to see each
//! module's imports (`cargo test --test module_layers -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and the top-level modules its code names as `crate::…`.
type Imports = BTreeMap<String, BTreeSet<String>>;

fn source_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The code of a line: nothing of a comment (doc links are not imports).
fn code(line: &str) -> &str {
    let line = line.trim_start();
    if line.starts_with("//") {
        return "";
    }
    line.split(" //").next().unwrap_or("")
}

/// The identifiers that follow each `crate::` in `code`, and in `use crate::{a, b::c}` groups.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `$crate::`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for item in group.split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    names.push(first.to_owned());
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

/// The names `lib.rs` re-exports (`pub use module::{A, B}`).
fn root_reexports(lib: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut statement = String::new();
    for line in lib.lines() {
        let line = code(line);
        if statement.is_empty() && !line.starts_with("pub use ") {
            continue;
        }
        statement.push_str(line);
        if !line.ends_with(';') {
            continue;
        }
        let list = statement
            .trim_start_matches("pub use ")
            .trim_end_matches(';')
            .split_once("::")
            .map_or("", |(_, items)| items)
            .trim_matches(|c| c == '{' || c == '}');
        for item in list.split(',') {
            let name = item.trim().rsplit("::").next().unwrap_or("").trim();
            if !name.is_empty() {
                names.insert(name.to_owned());
            }
        }
        statement.clear();
    }
    names
}

fn imports() -> (Imports, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut modules: Imports = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && (path.is_dir() || path.extension().is_some_and(|ext| ext == "rs")) {
            modules.insert(name, BTreeSet::new());
        }
    }
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut through_root = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = Path::new(first).file_stem().unwrap().to_string_lossy();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for name in crate_paths(code(line)) {
                if reexports.contains(&name) {
                    through_root.push(format!(
                        "{}:{}: crate::{name}",
                        relative.display(),
                        number + 1
                    ));
                } else if modules.contains_key(&name) && name != module {
                    modules.get_mut(&*module).unwrap().insert(name);
                }
            }
        }
    }
    (modules, through_root)
}

/// Every chain of imports that comes back to where it started.
fn cycles(imports: &Imports) -> Vec<Vec<String>> {
    fn walk(
        imports: &Imports,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        let here = path.last().unwrap().clone();
        for next in &imports[&here] {
            if let Some(start) = path.iter().position(|module| module == next) {
                let mut cycle = path[start..].to_vec();
                cycle.push(next.clone());
                found.push(cycle);
            } else if !done.contains(next) {
                path.push(next.clone());
                walk(imports, path, done, found);
                path.pop();
            }
        }
        done.insert(here);
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        if !done.contains(module) {
            walk(imports, &mut vec![module.clone()], &mut done, &mut found);
        }
    }
    found
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let (imports, _) = imports();
    for (module, uses) in &imports {
        let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("{module} -> {}", uses.join(" "));
    }
    let found = cycles(&imports);
    assert!(
        found.is_empty(),
        "import cycles between modules: {}",
        found
            .iter()
            .map(|cycle| cycle.join(" -> "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        imports.values().any(|uses| !uses.is_empty()),
        "the listing found the imports"
    );
}

#[test]
fn imports_name_the_defining_module() {
    let (_, through_root) = imports();
    assert!(
        through_root.is_empty(),
        "imports through the crate root's re-exports (name the defining module): {through_root:#?}"
    );
}

#[test]
fn the_check_sees_a_cycle() {
    let mut imports = Imports::new();
    imports.insert("a".into(), ["b".to_owned()].into());
    imports.insert("b".into(), ["c".to_owned()].into());
    imports.insert("c".into(), ["a".to_owned()].into());
    imports.insert("d".into(), BTreeSet::new());
    assert_eq!(cycles(&imports), vec![vec!["a", "b", "c", "a"]]);
    assert_eq!(
        crate_paths("use crate::{error::Error, shutdown::ShutdownHandle};"),
        ["error", "shutdown"]
    );
    assert!(root_reexports("pub use error::Error;\npub use a::{B,\n    C};").len() == 3);
}
