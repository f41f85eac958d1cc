//! The shape of this crate's own imports, read from its sources: shared helpers live below the
//! routes, so that
//!
//! 1. no route module imports another route module (`openapi`, which gathers the route
//!    handlers' annotations into one document, and `lib.rs`, which composes the router, may
//!    import them all);
//! 2. no module imports anything of the crate root (`lib.rs` only declares modules, re-exports
//!    and composes the routers; `crate::ApiError` is refused too: take it from `crate::error`),
//!    and no module imports `openapi`;
//! 3. the top-level modules' imports form no circle (a module's submodules count as the module,
//!    and `lib.rs` is left out).
//!
//! A module's imports are every `use crate::...` (grouped forms such as `use crate::{a, b::c}`
//! included), every `crate::name::...` path written inline, and every `super::` path that climbs
//! to the crate root, in any of its files, once comments and string and character literals are
//! blanked and `#[cfg(test)] mod ... { ... }` blocks are dropped.
//!
//! A *route module* is a top-level module with a function named `routes` (or ending in
//! `_routes`) whose signature names a `Router`: the routes it adds to the application. Every
//! module whose routes `lib.rs` merges must be found so, which keeps the rule honest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// May import route modules, and may be imported by nobody (but `lib.rs`).
const DOCUMENT: &str = "openapi";
/// What the crate root is called here.
const ROOT: &str = "lib";

/// One of the crate's source files, read and reduced to its code.
struct Source {
    /// Relative to `src/`, with `/` separators: `delivery/cache.rs`.
    file: String,
    /// The module path of the file below the crate root: `["delivery", "cache"]`; empty for
    /// `lib.rs`.
    module_path: Vec<String>,
    /// The code without comments, literals and `#[cfg(test)]` modules.
    code: String,
}

impl Source {
    /// The top-level module the file belongs to, or [`ROOT`].
    fn top(&self) -> &str {
        self.module_path.first().map_or(ROOT, String::as_str)
    }
}

/// One import of one file: `crate::tenants::rfc3339`, and the top-level name it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    /// The path as written (made absolute for `super::`): `crate::tenants::rfc3339`.
    path: String,
    /// The first segment after `crate::`: `tenants`.
    target: String,
}

fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .expect("under src/")
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>();
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            Source {
                file: relative.join("/"),
                module_path: module_path(&relative),
                code: drop_test_modules(&blank_comments_and_literals(&text)),
            }
        })
        .collect()
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// `["lib.rs"]` → `[]`, `["tenants.rs"]` → `["tenants"]`, `["auth", "mod.rs"]` → `["auth"]`,
/// `["auth", "password.rs"]` → `["auth", "password"]`.
fn module_path(relative: &[String]) -> Vec<String> {
    let mut path: Vec<String> = relative.to_vec();
    let last = path.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").expect("a .rs file").to_owned();
    if !(stem == "mod" || (path.is_empty() && (stem == "lib" || stem == "main"))) {
        path.push(stem);
    }
    path
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with every comment and every string, byte-string, raw-string and character
/// literal replaced by spaces (line breaks kept), so that neither a `// use crate::x` nor a
/// `"crate::x"` reads as an import, and braces inside them do not count.
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, text: &[char]| {
        out.extend(text.iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |offset| i + offset);
            blank(&mut out, &chars[i..end]);
            i = end;
        } else if c == '/' && next == Some('*') {
            // Block comments nest.
            let mut depth = 0;
            let mut j = i;
            while j < chars.len() {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &chars[i..j.min(chars.len())]);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            blank(&mut out, &chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A character literal (`'x'`, `'\''`, `'"'`), or else a lifetime or a label.
            let end = if next == Some('\\') {
                // Past the escaped character: `'\''` ends at its third quote.
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&c| c == '\''))
                    .map(|offset| i + 3 + offset + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    blank(&mut out, &chars[i..end]);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // A raw string: `r"..."`, `r#"..."#`, `br##"..."##`.
            let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
            if (word == "r" || word == "br") && chars.get(i + hashes) == Some(&'"') {
                let body = i + hashes + 1;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let end = (body..chars.len())
                    .find(|&j| chars[j..].starts_with(&closing))
                    .map_or(chars.len(), |j| j + closing.len());
                blank(&mut out, &chars[start..end]);
                i = end;
            } else {
                out.push_str(&word);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The code without its `#[cfg(test)] mod name { ... }` blocks (unit tests may reach anywhere).
fn drop_test_modules(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let mut words = after.split_whitespace();
        let is_module = words.next() == Some("mod")
            && words
                .next()
                .is_some_and(|name| name.chars().all(is_ident_char))
            && words.next().is_some_and(|word| word.starts_with('{'));
        let open = after.find('{');
        match (is_module, open) {
            (true, Some(open)) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (offset, c) in after[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + offset + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                out.push_str(&rest[..at]);
                let dropped = &rest[at..at + MARK.len() + end];
                out.extend(dropped.chars().filter(|&c| c == '\n'));
                rest = &rest[at + MARK.len() + end..];
            }
            _ => {
                out.push_str(&rest[..at + MARK.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The tokens of a `use` tree: identifiers, `::`, `{`, `}`, `,`, `*`.
fn tree_tokens(tree: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = tree.chars().peekable();
    while let Some(c) = chars.next() {
        if is_ident_char(c) {
            let mut word = c.to_string();
            while let Some(&c) = chars.peek().filter(|&&c| is_ident_char(c)) {
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".to_owned());
        } else if "{},*".contains(c) {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// Every path a `use` tree names: `crate::{a, b::{c, d as e}}` → `crate::a`, `crate::b::c`,
/// `crate::b::d`.
fn expand_tree(tokens: &[String], at: &mut usize, prefix: Vec<String>, out: &mut Vec<String>) {
    let mut path = prefix;
    while let Some(token) = tokens.get(*at) {
        *at += 1;
        match token.as_str() {
            "{" => {
                while let Some(token) = tokens.get(*at) {
                    match token.as_str() {
                        "}" => {
                            *at += 1;
                            return;
                        }
                        "," => *at += 1,
                        _ => expand_tree(tokens, at, path.clone(), out),
                    }
                }
                return;
            }
            "*" => {
                path.push("*".to_owned());
                out.push(path.join("::"));
                return;
            }
            "::" => {}
            word => {
                path.push(word.to_owned());
                match tokens.get(*at).map(String::as_str) {
                    Some("::") => {}
                    Some("as") => {
                        *at += 2;
                        out.push(path.join("::"));
                        return;
                    }
                    _ => {
                        out.push(path.join("::"));
                        return;
                    }
                }
            }
        }
    }
}

/// The word ending right before byte `at`, if any (skipping white space).
fn word_before(code: &str, at: usize) -> &str {
    let before = code[..at].trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_ident_char(c))
        .map_or(0, |(index, c)| index + c.len_utf8());
    &before[start..]
}

/// Whether the identifier `word` starts at byte `at` of `code` as a word of its own.
fn word_at(code: &str, at: usize, word: &str) -> bool {
    code[at..].starts_with(word)
        && !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident_char(c) || c == '$')
        && !code[at + word.len()..]
            .chars()
            .next()
            .is_some_and(is_ident_char)
}

/// A path relative to a file's module (`super::super::x`) made absolute, when it climbs to
/// the crate root: then it imports the root's items. `None` when it stays inside the file's
/// own top-level module.
fn resolve_super(path: &str, module_path: &[String]) -> Option<String> {
    let mut rest = path;
    let mut climbs = 0;
    while let Some(after) = rest.strip_prefix("super::") {
        rest = after;
        climbs += 1;
    }
    (climbs >= module_path.len()).then(|| format!("crate::{rest}"))
}

fn import_of(path: String) -> Import {
    // `use crate::x::{self, ...}` imports `crate::x`.
    let path = match path.strip_suffix("::self") {
        Some(module) => module.to_owned(),
        None => path,
    };
    let target = path
        .strip_prefix("crate::")
        .and_then(|rest| rest.split("::").next())
        .unwrap_or_default()
        .to_owned();
    Import { path, target }
}

/// Every import of the crate's own items in one file's code (see the module's documentation).
fn imports(code: &str, module_path: &[String]) -> Vec<Import> {
    let mut found = Vec::new();
    let mut rest_of_code = String::with_capacity(code.len());
    // `use` declarations first, each then removed from the code.
    let mut last = 0;
    let mut search = 0;
    while let Some(offset) = code[search..].find("use") {
        let at = search + offset;
        search = at + 3;
        if !word_at(code, at, "use") {
            continue;
        }
        let Some(end) = code[at..].find(';').map(|offset| at + offset) else {
            break;
        };
        let tokens = tree_tokens(&code[at + 3..end]);
        let mut paths = Vec::new();
        expand_tree(&tokens, &mut 0, Vec::new(), &mut paths);
        for path in paths {
            if path.starts_with("crate::") {
                found.push(import_of(path));
            } else if path.starts_with("super::")
                && let Some(absolute) = resolve_super(&path, module_path)
            {
                found.push(import_of(absolute));
            }
        }
        rest_of_code.push_str(&code[last..at]);
        last = end + 1;
        search = end + 1;
    }
    rest_of_code.push_str(&code[last..]);
    // Then paths written inline: `crate::bearer::authenticate(...)`, `super::x`.
    let code = rest_of_code;
    for start in ["crate::", "super::"] {
        let mut search = 0;
        while let Some(offset) = code[search..].find(start) {
            let at = search + offset;
            search = at + start.len();
            if !word_at(code.as_str(), at, &start[..start.len() - 2])
                || code[..at].ends_with("::")
                || word_before(&code, at) == "in"
            {
                continue;
            }
            let tail = &code[at..];
            let end = tail
                .char_indices()
                .find(|&(_, c)| !(is_ident_char(c) || c == ':'))
                .map_or(tail.len(), |(index, _)| index);
            let path = tail[..end].trim_end_matches(':').to_owned();
            search = at + end;
            if start == "crate::" {
                found.push(import_of(path));
            } else if let Some(absolute) = resolve_super(&path, module_path) {
                found.push(import_of(absolute));
            }
        }
    }
    found
}

/// The modules `lib.rs` declares: `mod x;` and `pub mod x;`.
fn declared_modules(root: &str) -> BTreeSet<String> {
    root.split(';')
        .filter_map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            match words.as_slice() {
                [.., "mod", name] if name.chars().all(is_ident_char) => Some((*name).to_owned()),
                _ => None,
            }
        })
        .collect()
}

/// Whether the code defines a function named `routes` or `..._routes` whose signature names a
/// `Router`.
fn defines_routes(code: &str) -> bool {
    let mut search = 0;
    while let Some(offset) = code[search..].find("fn ") {
        let at = search + offset;
        search = at + 3;
        if !word_at(code, at, "fn") {
            continue;
        }
        let name: String = code[at + 3..]
            .trim_start()
            .chars()
            .take_while(|&c| is_ident_char(c))
            .collect();
        let signature = code[at..].split('{').next().unwrap_or_default();
        if (name == "routes" || name.ends_with("_routes")) && signature.contains("Router") {
            return true;
        }
    }
    false
}

/// The modules whose routes `lib.rs` adds: `x::routes(` and `x::something_routes(`.
fn modules_lib_takes_routes_from(root: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    let mut search = 0;
    while let Some(offset) = root[search..].find("routes(") {
        let at = search + offset;
        search = at + "routes(".len();
        let before = &root[..at];
        let function_start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_ident_char(c))
            .map_or(0, |(index, c)| index + c.len_utf8());
        if let Some(module_end) = before[..function_start].strip_suffix("::") {
            modules.insert(word_before(module_end, module_end.len()).to_owned());
        }
    }
    modules
}

struct Crate {
    sources: Vec<Source>,
    modules: BTreeSet<String>,
    route_modules: BTreeSet<String>,
}

fn read_crate() -> Crate {
    let sources = sources();
    let root = sources
        .iter()
        .find(|source| source.file == "lib.rs")
        .expect("src/lib.rs");
    let modules = declared_modules(&root.code);
    for source in &sources {
        let top = source.top();
        assert!(
            top == ROOT || modules.contains(top),
            "src/{} belongs to no module that lib.rs declares",
            source.file
        );
    }
    let route_modules: BTreeSet<String> = sources
        .iter()
        .filter(|source| source.top() != ROOT && defines_routes(&source.code))
        .map(|source| source.top().to_owned())
        .collect();
    let merged = modules_lib_takes_routes_from(&root.code);
    assert!(
        !merged.is_empty(),
        "found no `x::routes(...)` in lib.rs: the test no longer reads it right"
    );
    for module in &merged {
        assert!(
            route_modules.contains(module),
            "lib.rs adds the routes of `{module}`, but no `fn routes(...) -> Router<...>` was found \
             in it: the rule that finds route modules (see this test's documentation) missed it"
        );
    }
    Crate {
        sources,
        modules,
        route_modules,
    }
}

/// Each file's imports, with its top-level module: (module, file, import).
fn all_imports(krate: &Crate) -> Vec<(String, String, Import)> {
    krate
        .sources
        .iter()
        .flat_map(|source| {
            imports(&source.code, &source.module_path)
                .into_iter()
                .map(|import| (source.top().to_owned(), source.file.clone(), import))
        })
        .collect()
}

#[test]
fn no_route_module_imports_another() {
    let krate = read_crate();
    let violations: Vec<String> = all_imports(&krate)
        .into_iter()
        .filter(|(module, _, import)| {
            krate.route_modules.contains(module)
                && krate.route_modules.contains(&import.target)
                && import.target != *module
        })
        .map(|(module, file, import)| {
            format!(
                "src/{file}: route module `{module}` imports route module `{}` (`{}`); \
                 move what it needs into a module below the routes",
                import.target, import.path
            )
        })
        .collect();
    assert!(
        violations.is_empty(),
        "route modules (found: {:?}) must not import one another:\n{}",
        krate.route_modules,
        violations.join("\n")
    );
}

#[test]
fn nothing_imports_the_crate_root_or_the_api_document() {
    let krate = read_crate();
    let violations: Vec<String> = all_imports(&krate)
        .into_iter()
        .filter(|(module, _, _)| module != ROOT)
        .filter_map(|(module, file, import)| {
            if !krate.modules.contains(&import.target) {
                Some(format!(
                    "src/{file}: `{module}` imports `{}`, an item of the crate root (lib.rs); \
                     import it from the module that defines it",
                    import.path
                ))
            } else if import.target == DOCUMENT && module != DOCUMENT {
                Some(format!(
                    "src/{file}: `{module}` imports `{}` from the API document; only lib.rs may",
                    import.path
                ))
            } else {
                None
            }
        })
        .collect();
    assert!(
        violations.is_empty(),
        "no module may import from lib.rs or openapi.rs:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_modules_import_one_another_in_no_circle() {
    let krate = read_crate();
    // Each edge with the first import that makes it, for the message.
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, file, import) in all_imports(&krate) {
        if module == ROOT || import.target == module || !krate.modules.contains(&import.target) {
            continue;
        }
        edges
            .entry(module)
            .or_default()
            .entry(import.target)
            .or_insert_with(|| format!("src/{file}: {}", import.path));
    }
    if let Some(cycle) = find_cycle(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                format!(
                    "  {} → {}   ({})",
                    pair[0], pair[1], edges[&pair[0]][&pair[1]]
                )
            })
            .collect();
        panic!(
            "the modules' imports form a circle: {}\n{}",
            cycle.join(" → "),
            steps.join("\n")
        );
    }
}

/// A circle in the graph, as its modules with the first repeated at the end.
fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeMap<String, String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flat_map(BTreeMap::keys) {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|module| module == next)?;
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, marks, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if !marks.contains_key(node)
            && let Some(cycle) = visit(node, edges, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

// The reader itself, on small pieces of code.

fn paths_in(code: &str, module_path: &[&str]) -> Vec<String> {
    let module_path: Vec<String> = module_path.iter().map(|&part| part.to_owned()).collect();
    let code = drop_test_modules(&blank_comments_and_literals(code));
    imports(&code, &module_path)
        .into_iter()
        .map(|import| import.path)
        .collect()
}

#[test]
fn the_reader_expands_grouped_uses_and_finds_inline_paths() {
    let code = "use crate::{a, b::{c, d as e}, f::*};\n\
                pub(crate) use crate::g::h;\n\
                use std::sync::Arc;\n\
                fn x() { crate::i::j(); let user = 1; }\n";
    assert_eq!(
        paths_in(code, &["m"]),
        [
            "crate::a",
            "crate::b::c",
            "crate::b::d",
            "crate::f::*",
            "crate::g::h",
            "crate::i::j"
        ]
    );
}

#[test]
fn the_reader_skips_comments_literals_and_unit_tests() {
    let code = "// use crate::a;\n\
                /* crate::b /* nested */ crate::c */\n\
                const S: &str = \"crate::d \\\" crate::e\";\n\
                const R: &str = r#\"crate::f \" {\"#;\n\
                const Q: char = '\"';\n\
                const P: [char; 2] = ['\\'', '\\\\'];\n\
                fn f<'a>(x: &'a str) -> &'a str { crate::g::h(x) }\n\
                #[cfg(test)]\n\
                mod tests {\n    use crate::i;\n    fn t() { let _ = \"}\"; }\n}\n\
                fn after() { crate::j::k(); }\n";
    assert_eq!(paths_in(code, &["m"]), ["crate::g::h", "crate::j::k"]);
}

#[test]
fn the_reader_sees_super_paths_that_reach_the_root() {
    let code = "use super::a;\nfn f() { super::b(); super::super::c(); }\n";
    // From a top-level module, `super` is the crate root.
    assert_eq!(paths_in(code, &["m"]), ["crate::a", "crate::b", "crate::c"]);
    // From a submodule, `super` is its own module; `super::super` is the root.
    assert_eq!(paths_in(code, &["m", "n"]), ["crate::c"]);
}

#[test]
fn the_reader_finds_route_modules_and_circles() {
    assert!(defines_routes(
        "pub fn routes() -> Router<AppState> { Router::new() }"
    ));
    assert!(defines_routes(
        "pub(crate) fn api_routes<S>() -> Router<S> where S: Clone { todo() }"
    ));
    assert!(!defines_routes("fn routes_of(x: u8) -> Vec<u8> { vec![] }"));
    assert_eq!(
        modules_lib_takes_routes_from(".merge(auth::routes()).merge(connect::api_routes())"),
        BTreeSet::from(["auth".to_owned(), "connect".to_owned()])
    );
    let edges = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (from, to) in pairs {
            edges
                .entry((*from).to_owned())
                .or_default()
                .insert((*to).to_owned(), String::new());
        }
        edges
    };
    assert_eq!(
        find_cycle(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    assert_eq!(
        find_cycle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
