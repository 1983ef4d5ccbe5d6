//! Embeds every file under `assets/` in the binary: generates a table of
//! `(name, bytes, etag)` with `include_bytes!`, so adding a file needs no code change.
//! The ETag is a hash of the content, computed here once instead of on each request.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a target directory copied
    // from another checkout must embed this checkout's files.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("assets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("ui/assets")
        .map(|e| {
            e.expect("ui/assets entry")
                .file_name()
                .into_string()
                .expect("UTF-8 asset name")
        })
        .collect();
    names.sort();
    let mut table = String::from("&[\n");
    for name in &names {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).expect("asset");
        writeln!(
            table,
            "    ({name:?}, include_bytes!({path:?}), \"\\\"{:016x}\\\"\"),",
            fnv1a(&bytes),
            path = path.display().to_string(),
        )
        .expect("write to String");
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("assets.rs");
    std::fs::write(out, table).expect("write assets.rs");
}

/// 64-bit FNV-1a: enough to tell two versions of a file apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
