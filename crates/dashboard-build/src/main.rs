//! `cargo dashboard`: builds `frontend/` into `frontend/dist/`, the files `freshtoken` serves.
//!
//! The output is an HTML shell (`index.html`, never cached) and assets named by a hash of
//! their content (cached forever), each with a gzip copy beside it so the server never
//! compresses at request time. Cargo does the incremental part: a second run with nothing
//! changed takes a few seconds.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

const TARGET: &str = "wasm32-unknown-unknown";
/// The Cargo profile of the wasm build (in the workspace's Cargo.toml): small beats fast for
/// a download.
const PROFILE: &str = "dashboard";

fn main() -> Result<()> {
    let root = workspace_root()?;
    let frontend = root.join("frontend");
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| frontend.join("dist"));

    ensure_wasm_target()?;
    let wasm = compile(&root)?;

    let staging = out.with_extension("tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(staging.join("assets"))?;
    let bindgen_dir = staging.join("bindgen");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        // Function names are for debuggers; the download goes without them. (Cargo's `strip`
        // would also drop the section that tells wasm-bindgen the target's features.)
        .remove_name_section(true)
        .remove_producers_section(true)
        .out_name("dashboard")
        .generate(&bindgen_dir)
        .context("running wasm-bindgen")?;
    let generated: Vec<_> = fs::read_dir(&bindgen_dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    if generated.len() != 2 {
        bail!(
            "wasm-bindgen wrote {generated:?}; expected only dashboard.js and dashboard_bg.wasm (JS snippets are not supported)"
        );
    }

    let mut assets = Assets::new(staging.join("assets"));
    let wasm_name = assets.add(
        "dashboard",
        "wasm",
        fs::read(bindgen_dir.join("dashboard_bg.wasm"))?,
    )?;
    // Start the app when the module loads, from the hashed wasm beside it (the CSP allows no
    // inline script to do it).
    let script = fs::read_to_string(bindgen_dir.join("dashboard.js"))?;
    if !script.contains("async function __wbg_init(") {
        bail!("wasm-bindgen's dashboard.js no longer defines __wbg_init");
    }
    let script = format!(
        "{script}\n__wbg_init({{ module_or_path: new URL('{wasm_name}', import.meta.url) }});\n"
    );
    let script_name = assets.add("dashboard", "js", script.into_bytes())?;
    let style_name = assets.add("style", "css", fs::read(frontend.join("style.css"))?)?;
    let icon_name = assets.add("icon", "svg", fs::read(frontend.join("icon.svg"))?)?;
    fs::remove_dir_all(&bindgen_dir)?;

    let shell = fs::read_to_string(frontend.join("index.html"))?
        .replace("{{style}}", &format!("/assets/{style_name}"))
        .replace("{{script}}", &format!("/assets/{script_name}"))
        .replace("{{wasm}}", &format!("/assets/{wasm_name}"))
        .replace("{{icon}}", &format!("/assets/{icon_name}"));
    fs::write(staging.join("index.html"), &shell)?;
    write_gzip(&staging.join("index.html.gz"), shell.as_bytes())?;

    let _ = fs::remove_dir_all(&out);
    fs::rename(&staging, &out).with_context(|| format!("moving the build to {}", out.display()))?;

    let shell_gzip = fs::metadata(out.join("index.html.gz"))?.len();
    println!("dashboard built in {}", out.display());
    println!("  {:<40} {:>9} {:>9}", "file", "bytes", "gzip");
    println!(
        "  {:<40} {:>9} {:>9}",
        "index.html",
        shell.len(),
        shell_gzip
    );
    for asset in &assets.written {
        println!("  {:<40} {:>9} {:>9}", asset.name, asset.bytes, asset.gzip);
    }
    let first_page: u64 = shell_gzip + assets.written.iter().map(|asset| asset.gzip).sum::<u64>();
    println!("  first page, gzip: {first_page} bytes");
    Ok(())
}

/// The checkout to build, read when the tool runs: `cargo run` names this crate's folder in
/// `CARGO_MANIFEST_DIR`; otherwise the nearest folder up from here holding `frontend/`. (Not
/// the path baked in at compile time: one target directory may serve several checkouts.)
fn workspace_root() -> Result<PathBuf> {
    if let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        return Ok(Path::new(&manifest_dir).join("../..").canonicalize()?);
    }
    let here = std::env::current_dir()?;
    here.ancestors()
        .find(|dir| dir.join("frontend/Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .context("no frontend/ here or above: run `cargo dashboard` in a freshtoken checkout")
}

/// Adds the wasm target to the toolchain when it is missing: rustup fetches it from the same
/// place as the toolchain itself.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(output)
            if String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|line| line == TARGET) =>
        {
            Ok(())
        }
        Ok(_) => {
            eprintln!("adding the {TARGET} target with rustup");
            let status = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()?;
            if !status.success() {
                bail!("`rustup target add {TARGET}` failed");
            }
            Ok(())
        }
        // No rustup: the toolchain may still have the target (a distribution's Rust, say).
        Err(_) => Ok(()),
    }
}

/// Compiles the dashboard crate to wasm and returns the path of the module.
fn compile(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--package",
            "freshtoken-dashboard",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .status()
        .context("starting cargo")?;
    if !status.success() {
        bail!("compiling the dashboard failed");
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    Ok(target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("freshtoken-dashboard.wasm"))
}

struct Written {
    name: String,
    bytes: usize,
    gzip: u64,
}

/// The `assets/` folder: every file named `{stem}-{hash}.{extension}`, with a gzip copy.
struct Assets {
    dir: PathBuf,
    written: Vec<Written>,
}

impl Assets {
    fn new(dir: PathBuf) -> Assets {
        Assets {
            dir,
            written: Vec::new(),
        }
    }

    fn add(&mut self, stem: &str, extension: &str, content: Vec<u8>) -> Result<String> {
        let digest = Sha256::digest(&content);
        let hash: String = digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let name = format!("{stem}-{hash}.{extension}");
        let path = self.dir.join(&name);
        fs::write(&path, &content)?;
        let gzip_path = self.dir.join(format!("{name}.gz"));
        write_gzip(&gzip_path, &content)?;
        self.written.push(Written {
            name: name.clone(),
            bytes: content.len(),
            gzip: fs::metadata(&gzip_path)?.len(),
        });
        Ok(name)
    }
}

fn write_gzip(path: &Path, content: &[u8]) -> Result<()> {
    let mut encoder =
        flate2::write::GzEncoder::new(fs::File::create(path)?, flate2::Compression::best());
    encoder.write_all(content)?;
    encoder.finish()?;
    Ok(())
}
