//! Project automation, run as `cargo xtask <task>`.
//!
//! - `ci`: everything CI checks, in order: formatting, clippy with warnings denied (the
//!   minimum Rust version's API included), the dependencies' minimum Rust versions, each
//!   published crate alone with each of its features, the whole test suite (with
//!   parallel-batch's `parquet` feature), the library crates against their newest
//!   dependencies (`fresh-deps`), rustdoc with warnings denied, `parallel-datafusion`
//!   linted and tested in one build, `cargo package` of every published crate, and the
//!   official Python SDK running a complete workflow against the emulator.
//! - `fresh-deps`: the library crates checked, warnings denied, against the newest versions
//!   of their dependencies that a user's first build would resolve (a copy of the workspace in
//!   `target/fresh-deps` with `cargo update`): a deprecation or a break in a new release shows
//!   here before users see it, while `Cargo.lock` keeps every other step reproducible.
//! - `msrv`, `features`, `datafusion`, `package`, `sdk-compat`: one of those steps alone.
//! - `bench [ARGS]`: the criterion benchmarks (`cargo bench -p parallel-benches`).
//! - `fuzz [SECONDS]`: the SSE parser fuzz target under `cargo fuzz` (default 600 s; works on
//!   stable through `RUSTC_BOOTSTRAP=1`).
//! - `emulator [ARGS]`: serve the emulator (`parallel-emulator --listen 127.0.0.1:8080`).
//! - `man`: parallel-batch's man pages, generated from its command line (`clap_mangen`), in
//!   `target/man` (`man -l target/man/parallel-batch-run.1`).
//!
//! It depends on nothing but `std`, so it builds in seconds.

use std::env;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci(),
        "features" => features(),
        "fresh-deps" => fresh_deps(),
        "msrv" => msrv(),
        "datafusion" => datafusion(),
        "package" => package(),
        "sdk-compat" => sdk_compat(),
        "man" => man(),
        "bench" => cargo(
            &[
                &["bench", "-p", "parallel-benches", "--"],
                strs(rest).as_slice(),
            ]
            .concat(),
        ),
        "fuzz" => fuzz(rest.first().map_or("600", String::as_str)),
        "emulator" => {
            let mut cmd = vec!["run", "--release", "-p", "parallel-emulator", "--"];
            if rest.is_empty() {
                cmd.extend(["--listen", "127.0.0.1:8080"]);
            }
            cmd.extend(strs(rest));
            cargo(&cmd)
        }
        "help" | "-h" | "--help" => {
            println!(
                "usage: cargo xtask <ci | features | fresh-deps | msrv | datafusion | package | sdk-compat | bench [ARGS] | fuzz [SECONDS] | emulator [ARGS] | man>"
            );
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Features the workspace's clippy, test and doc steps turn on, so that one build covers the
/// code behind them.
const CI_FEATURES: &str = "parallel-batch/parquet";

/// The member outside the default set, whose dependencies (`DataFusion`) would double CI's time
/// if they were built once for clippy and again for the tests: [`datafusion`] lints and tests
/// it in one build.
const DATAFUSION: &str = "parallel-datafusion";

/// The features [`datafusion`] builds `parallel-datafusion` with: Ballista, for the
/// distributed test, in the one build of `DataFusion` the step makes.
const DATAFUSION_FEATURES: &str = "ballista";

/// The whole CI gate. Each step builds on the previous one's artefacts where cargo allows it.
fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    // `incompatible_msrv` (in `clippy::all`, named here so that no lint table can turn it
    // off) flags any standard library API newer than the `rust-version` of the crate's
    // manifest: the minimum Rust version we state is the one the code compiles with.
    cargo(&[
        "clippy",
        "--workspace",
        "--exclude",
        DATAFUSION,
        "--all-targets",
        "--features",
        CI_FEATURES,
        "--locked",
        "--",
        "-D",
        "warnings",
        "-D",
        "clippy::incompatible_msrv",
    ])?;
    msrv()?;
    features()?;
    fresh_deps()?;
    cargo(&[
        "test",
        "--workspace",
        "--exclude",
        DATAFUSION,
        "--features",
        CI_FEATURES,
        "--locked",
    ])?;
    run(Command::new(cargo_bin())
        .args([
            "doc",
            "--workspace",
            "--exclude",
            DATAFUSION,
            "--no-deps",
            "--features",
            CI_FEATURES,
            "--locked",
        ])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    datafusion()?;
    package()?;
    sdk_compat()
}

/// `parallel-datafusion`, linted and tested in one build: clippy's driver stands in for rustc
/// on the workspace's own crates (`RUSTC_WORKSPACE_WRAPPER`, as `cargo clippy` does itself),
/// so the same compilation both lints the code (any warning fails the step) and builds the
/// test binaries; `DataFusion` is compiled once, by plain rustc. `cargo clippy` would
/// type-check all of `DataFusion` a second time, which is most of a cold build again.
///
/// With the `ballista` feature, so that the same single build also covers the Ballista
/// scheduler and executors and runs the test that kills an executor mid-query.
fn datafusion() -> Result<(), String> {
    let wrapper = [("RUSTC_WORKSPACE_WRAPPER", "clippy-driver")];
    cargo_without_warnings_env(
        &[
            "test",
            "-p",
            DATAFUSION,
            "--features",
            DATAFUSION_FEATURES,
            "--all-targets",
            "--no-run",
            "--locked",
        ],
        &wrapper,
    )?;
    run(Command::new(cargo_bin())
        .args([
            "test",
            "-p",
            DATAFUSION,
            "--features",
            DATAFUSION_FEATURES,
            "--locked",
        ])
        .envs(wrapper)
        .current_dir(workspace_root()))
}

/// Each published crate builds alone with `--no-default-features`, and with each of its
/// features on its own: a feature that needs another one it does not enable, or code that
/// forgets a `cfg`, fails here rather than in a user's build. The workspace build cannot see
/// this, since cargo unifies the features of every member. `cargo check` only, in the usual
/// target directory, so that the dependencies are checked once and reused.
fn features() -> Result<(), String> {
    // Not parallel-datafusion: its one feature is the example's Parquet tables, and checking
    // `DataFusion` alone, twice, would cost more than the rest of CI.
    for krate in published_crates()?
        .into_iter()
        .filter(|krate| krate.name != DATAFUSION)
    {
        let mut sets = vec![None];
        sets.extend(krate.features.iter().map(Some));
        for feature in sets {
            let mut args = vec![
                "check",
                "--locked",
                "-p",
                &krate.name,
                "--no-default-features",
            ];
            if let Some(feature) = feature {
                args.extend(["--features", feature]);
            }
            // Warnings are errors here too (a `cfg` that leaves an import unused, say), without
            // `RUSTFLAGS`, which would rebuild every dependency.
            cargo_without_warnings(&args)?;
        }
    }
    Ok(())
}

/// The library crates, checked with warnings denied against the newest dependency versions a
/// user's build would resolve today: a copy of the workspace (sources and manifests, no
/// `target/` or `.git/`) in `target/fresh-deps/workspace`, `cargo update` there, then one
/// `cargo check --lib` of the published library crates. `Cargo.lock` pins CI's other steps,
/// so without this a deprecation in a new release (rustls 0.23.48's `ring` provider, say)
/// warns in every user's build and in none of ours. Its own target directory
/// (`target/fresh-deps/target`) keeps the locked build's artefacts untouched; a second run
/// reuses it. Needs the registry, as `cargo update` does.
fn fresh_deps() -> Result<(), String> {
    let root = workspace_root();
    let base = root.join("target").join("fresh-deps");
    let copy = base.join("workspace");
    if copy.exists() {
        std::fs::remove_dir_all(&copy)
            .map_err(|e| format!("cannot remove the old copy {}: {e}", copy.display()))?;
    }
    copy_tree(&root, &copy)?;
    let target = base.join("target");
    let target = target.to_string_lossy();
    let env = [("CARGO_TARGET_DIR", target.as_ref())];
    cargo_without_warnings_in(&copy, &["update"], &env)?;
    let crates: Vec<String> = published_crates()?
        .into_iter()
        .map(|krate| krate.name)
        .filter(|name| name != DATAFUSION && name != "parallel-batch")
        .collect();
    let mut args = vec!["check", "--lib"];
    for name in &crates {
        args.extend(["-p", name.as_str()]);
    }
    cargo_without_warnings_in(&copy, &args, &env)
}

/// Copies the directory `from` into `to` (created), leaving out every `target` and `.git`
/// entry: the workspace's sources and manifests, not its build or history.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &dest)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// `cargo package` for every published crate: the manifests are complete (no warning is
/// accepted), every file a crate needs is in its package, and every path dependency between
/// our crates carries a version.
///
/// The crates are named one by one: `--workspace` would also package the members that are
/// not published (examples, benches, xtask). `--no-verify`: verifying builds every package
/// again from its unpacked sources, with all its dependencies, in a target directory of its
/// own (43 s for `parallel-types` and `parallel-sse` alone; minutes for the workspace), to
/// show what the test step has already shown: the same sources build. `--allow-dirty`: CI
/// checks the tree as it is, like every other step, committed or not.
fn package() -> Result<(), String> {
    let crates = published_crates()?;
    let mut args = vec!["package", "--no-verify", "--locked", "--allow-dirty"];
    for krate in &crates {
        args.extend(["-p", &krate.name]);
    }
    cargo_without_warnings(&args)
}

/// No dependency in `Cargo.lock` asks for a newer Rust than the workspace's `rust-version`:
/// clippy's `incompatible_msrv` checks our code against it, this checks what we build on
/// (the resolver prefers compatible versions, but a manifest or an update can still ask for
/// a newer one). Reads `cargo metadata`, which every platform's dependencies are in.
fn msrv() -> Result<(), String> {
    let root = workspace_root();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read the workspace manifest: {e}"))?;
    let ours = workspace
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "rust-version").then(|| value.trim().trim_matches('"').to_owned())
        })
        .ok_or("the workspace manifest has no `rust-version`")?;
    let shown = "cargo metadata --format-version 1 --locked";
    eprintln!("$ {shown}");
    let output = Command::new(cargo_bin())
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    // A member may state its own, newer `rust-version` (parallel-datafusion: DataFusion needs
    // a newer Rust); its dependencies are held to that, and every other member's to ours.
    let own: Vec<(String, String)> = published_crates()?
        .into_iter()
        .filter_map(|krate| Some((krate.name, krate.rust_version?)))
        .collect();
    let mut args = vec!["--workspace"];
    for (name, _) in &own {
        args.extend(["--exclude", name.as_str()]);
    }
    let mut too_new = within(packages_newer_than(&json, &ours), &tree(&args)?);
    for (name, version) in &own {
        let needed = within(packages_newer_than(&json, version), &tree(&["-p", name])?);
        too_new.extend(
            needed
                .into_iter()
                .map(|p| format!("{p} (for {name}, on {version})")),
        );
    }
    if too_new.is_empty() {
        eprintln!(
            "every dependency builds with the Rust its members state ({ours} unless a member says otherwise)"
        );
        Ok(())
    } else {
        Err(format!(
            "the workspace says `rust-version = \"{ours}\"`, but these need a newer Rust; \
             raise it or pin older versions:\n{}",
            too_new.join("\n")
        ))
    }
}

/// The packages (`name@version`) that the members `selection` picks depend on, through
/// normal, build and dev edges, as `cargo tree` resolves them.
fn tree(selection: &[&str]) -> Result<std::collections::HashSet<String>, String> {
    let mut args = vec!["tree", "--locked", "-e", "normal,build,dev"];
    args.extend(["--prefix", "none", "--format", "{p}"]);
    args.extend(selection);
    let shown = format!("cargo {}", args.join(" "));
    eprintln!("$ {shown}");
    let output = Command::new(cargo_bin())
        .args(&args)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some(format!("{name}@{version}"))
        })
        .collect())
}

/// The entries of [`packages_newer_than`] whose package is in `packages` (`name@version`).
fn within(entries: Vec<String>, packages: &std::collections::HashSet<String>) -> Vec<String> {
    entries
        .into_iter()
        .filter(|entry| {
            let id = entry.split(" needs Rust ").next().unwrap_or_default();
            packages.contains(&name_at_version(id))
        })
        .collect()
}

/// `name@version` of a package id: `registry+…#name@1.0.0`, or `path+file:///…/name#0.1.0`.
fn name_at_version(id: &str) -> String {
    let (url, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    if fragment.contains('@') {
        fragment.to_owned()
    } else {
        let name = url.rsplit('/').next().unwrap_or_default();
        format!("{name}@{fragment}")
    }
}

/// The packages of a `cargo metadata` document whose `rust_version` is newer than `ours`,
/// as `id needs Rust X`. A package's `id` comes before its `rust_version`, and nothing else
/// in a package has an `id`, so the nearest `id` before it is the package's.
fn packages_newer_than(metadata_json: &str, ours: &str) -> Vec<String> {
    const FIELD: &str = "\"rust_version\":\"";
    let version = |text: &str| -> Vec<u64> {
        let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        parts.resize(3, 0);
        parts
    };
    let ours = version(ours);
    metadata_json
        .match_indices(FIELD)
        .filter_map(|(at, _)| {
            let needed = metadata_json[at + FIELD.len()..].split('"').next()?;
            if version(needed) <= ours {
                return None;
            }
            let id = metadata_json[..at]
                .rfind("\"id\":\"")
                .and_then(|i| metadata_json[i + 6..].split('"').next())
                .unwrap_or("a package");
            Some(format!("{id} needs Rust {needed}"))
        })
        .collect()
}

/// Runs cargo with its output captured, shows it, and fails on an error or on any warning.
fn cargo_without_warnings(args: &[&str]) -> Result<(), String> {
    cargo_without_warnings_env(args, &[])
}

/// [`cargo_without_warnings`] with these environment variables set.
fn cargo_without_warnings_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    cargo_without_warnings_in(&workspace_root(), args, env)
}

/// [`cargo_without_warnings_env`] in the directory `dir`.
fn cargo_without_warnings_in(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(), String> {
    let mut words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    words.push("cargo".to_owned());
    words.extend(args.iter().map(|arg| (*arg).to_owned()));
    let shown = words.join(" ");
    eprintln!("$ {shown}");
    let output = Command::new(cargo_bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    if !output.status.success() {
        return Err(format!("`{shown}` failed ({})", output.status));
    }
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("warning"))
        .collect();
    if warnings.is_empty() {
        Ok(())
    } else {
        Err(format!("`{shown}` warned:\n{}", warnings.join("\n")))
    }
}

/// A workspace member that is published, and the features its manifest declares.
struct Crate {
    name: String,
    /// Every feature but `default`.
    features: Vec<String>,
    /// Its own `rust-version`, where it does not take the workspace's.
    rust_version: Option<String>,
}

/// The workspace members without `publish = false`, read from the manifests: the root's
/// `members` list, then each member's `[package]` name and `[features]` table.
fn published_crates() -> Result<Vec<Crate>, String> {
    let root = workspace_root();
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let workspace = read(&root.join("Cargo.toml"))?;
    let mut crates = Vec::new();
    for member in toml_string_array(&workspace, "members") {
        let manifest = read(&root.join(&member).join("Cargo.toml"))?;
        let mut section = "";
        let (mut name, mut published, mut features) = (None, true, Vec::new());
        let mut rust_version = None;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match section {
                "package" if key == "name" => name = Some(value.trim_matches('"').to_owned()),
                "package" if key == "publish" => published = value != "false",
                "package" if key == "rust-version" => {
                    rust_version = Some(value.trim_matches('"').to_owned());
                }
                "features" if !key.starts_with('#') && key != "default" => {
                    features.push(key.to_owned());
                }
                _ => {}
            }
        }
        let name = name.ok_or_else(|| format!("{member}/Cargo.toml has no package name"))?;
        if published {
            crates.push(Crate {
                name,
                features,
                rust_version,
            });
        }
    }
    if crates.is_empty() {
        return Err("no published crate found in the workspace's `members`".to_owned());
    }
    Ok(crates)
}

/// The strings of the array `key = [ ... ]` in a TOML document (the first one), which may
/// span lines.
fn toml_string_array(toml: &str, key: &str) -> Vec<String> {
    let start = toml
        .lines()
        .position(|line| line.split('=').next().is_some_and(|k| k.trim() == key));
    let Some(start) = start else {
        return Vec::new();
    };
    let text: String = toml
        .lines()
        .skip(start)
        .map(|line| line.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let body = text
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("", |(body, _)| body);
    body.split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Runs `crates/parallel-emulator/tests/sdk_compat.py` with the official Python SDK
/// (`parallel-web` from the Python package index, in a virtual environment under `target/`)
/// against a freshly started emulator binary.
fn sdk_compat() -> Result<(), String> {
    let root = workspace_root();
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let venv = target.join("sdk-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "parallel-web",
    ]))?;
    cargo(&[
        "build",
        "--locked",
        "-p",
        "parallel-emulator",
        "--bin",
        "parallel-emulator",
    ])?;

    let emulator = target.join("debug").join("parallel-emulator");
    let mut server = Command::new(&emulator)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "sdk-compat-key",
            "--time-scale",
            "0.001",
            "--seed",
            "7",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", emulator.display()))?;
    let first_line = server
        .stdout
        .take()
        .and_then(|out| BufReader::new(out).lines().next())
        .and_then(Result::ok)
        .unwrap_or_default();
    let outcome = match first_line.strip_prefix("listening on ") {
        Some(base_url) => run(Command::new(&python)
            .arg(root.join("crates/parallel-emulator/tests/sdk_compat.py"))
            .env("PARALLEL_BASE_URL", base_url.trim())
            .env("PARALLEL_API_KEY", "sdk-compat-key")),
        None => Err(format!(
            "the emulator printed `{first_line}` instead of `listening on http://ADDR`"
        )),
    };
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

/// Runs the SSE parser's fuzz target (`crates/parallel-sse/fuzz`) for `seconds`.
///
/// cargo-fuzz passes nightly-only `-Z` flags to rustc. No nightly toolchain is needed:
/// `RUSTC_BOOTSTRAP=1` lets a stable rustc accept them. The target is built with the address
/// sanitizer when the toolchain supports it, else without a sanitizer (the parser is
/// `forbid(unsafe_code)`, so the sanitizer mostly guards the dependencies). Needs
/// `cargo install cargo-fuzz`.
fn fuzz(seconds: &str) -> Result<(), String> {
    let dir = workspace_root().join("crates/parallel-sse/fuzz");
    let cargo_fuzz = |args: &[&str]| {
        let mut cmd = Command::new(cargo_bin());
        cmd.current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .arg("fuzz")
            .args(args);
        cmd
    };
    let installed = cargo_fuzz(&["--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !installed.is_ok_and(|status| status.success()) {
        return Err("cargo-fuzz is not installed; run `cargo install cargo-fuzz` first".to_owned());
    }
    // Build first, so that a sanitizer the toolchain lacks is told apart from a crash found.
    let sanitizer = if run(&mut cargo_fuzz(&["build", "parse"])).is_ok() {
        "address"
    } else {
        eprintln!("xtask: the address-sanitizer build failed; fuzzing without a sanitizer");
        run(&mut cargo_fuzz(&["build", "--sanitizer", "none", "parse"]))?;
        "none"
    };
    let dict = dir.join("sse.dict");
    run(&mut cargo_fuzz(&[
        "run",
        "--sanitizer",
        sanitizer,
        "parse",
        "--",
        &format!("-max_total_time={seconds}"),
        &format!("-dict={}", dict.display()),
        "-print_final_stats=1",
    ]))
}

/// parallel-batch's man pages, written by the tool itself (its hidden `man-pages` command
/// renders them from its clap definition) into `target/man`.
fn man() -> Result<(), String> {
    let dir = man_dir(env::var_os("CARGO_TARGET_DIR").map(PathBuf::from));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    run(Command::new(cargo_bin())
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "parallel-batch",
            "--",
            "man-pages",
        ])
        .arg(&dir)
        .current_dir(workspace_root()))?;
    eprintln!("man pages in {}", dir.display());
    Ok(())
}

/// Where `man` writes: `man` in the target directory (`CARGO_TARGET_DIR`, relative to the
/// workspace when relative, as cargo reads it; else `target`).
fn man_dir(target_dir: Option<PathBuf>) -> PathBuf {
    let target = target_dir.unwrap_or_else(|| PathBuf::from("target"));
    workspace_root().join(target).join("man")
}

fn cargo(args: &[&str]) -> Result<(), String> {
    run(Command::new(cargo_bin())
        .args(args)
        .current_dir(workspace_root()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_go_to_the_target_directory() {
        assert_eq!(man_dir(None), workspace_root().join("target/man"));
        assert_eq!(
            man_dir(Some(PathBuf::from("/elsewhere"))),
            Path::new("/elsewhere/man")
        );
    }

    #[test]
    fn a_string_array_is_read_across_lines_and_comments() {
        let toml = "[workspace]\ndefault-members = [\"x\"]\nmembers = [\n    \"crates/a\", # the first\n    \"b\",\n]\n[other]\nlist = [\"c\"]\n";
        assert_eq!(toml_string_array(toml, "members"), ["crates/a", "b"]);
        assert_eq!(toml_string_array(toml, "default-members"), ["x"]);
        assert!(toml_string_array(toml, "absent").is_empty());
    }

    #[test]
    fn package_ids_name_their_package_and_version() {
        assert_eq!(
            name_at_version("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.229"),
            "serde@1.0.229"
        );
        assert_eq!(
            name_at_version("path+file:///w/crates/parallel-types#0.1.0"),
            "parallel-types@0.1.0"
        );
        assert_eq!(
            name_at_version("path+file:///w/benches#parallel-benches@0.1.0"),
            "parallel-benches@0.1.0"
        );
    }

    #[test]
    fn dependencies_newer_than_the_msrv_are_named() {
        let json = r#"{"packages":[{"name":"old","id":"registry+x#old@1.0.0","targets":[{"name":"old"}],"rust_version":"1.70"},{"name":"new","id":"registry+x#new@2.1.0","dependencies":[{"name":"old"}],"rust_version":"1.89.0"},{"name":"same","id":"registry+x#same@1.0.0","rust_version":"1.88.0"},{"name":"none","id":"path+y#none@0.1.0","rust_version":null}]}"#;
        assert_eq!(
            packages_newer_than(json, "1.88"),
            ["registry+x#new@2.1.0 needs Rust 1.89.0"]
        );
        assert!(packages_newer_than(json, "1.89").is_empty());
    }

    #[test]
    fn the_crates_under_crates_are_published_and_the_other_members_are_not() {
        let root = workspace_root();
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let published: Vec<String> = published_crates()
            .unwrap()
            .into_iter()
            .map(|krate| krate.name)
            .collect();
        for member in toml_string_array(&workspace, "members") {
            let name = member.rsplit('/').next().unwrap();
            let shown = published.iter().any(|p| p == name);
            // examples, benches and xtask would be published with nothing in them for a user.
            assert_eq!(
                shown,
                member.starts_with("crates/"),
                "{member}: published {shown}"
            );
        }
    }
}
