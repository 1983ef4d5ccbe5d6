//! The third-party Python clients the tests drive, from the venv `scripts/client-venv.sh`
//! makes (default `target/pyenv`, or `$CLIENTS_PYENV`): marathon-python and pymesos,
//! both from PyPI and unmodified.

use std::path::PathBuf;
use std::time::Duration;

use crate::process::{run_command, CommandOutput};

/// The venv's python, or None (with a note) when the venv was not made; on CI (`CI` set) a
/// missing venv fails instead, since `scripts/test.sh` makes it.
pub fn client_python() -> Option<PathBuf> {
    let venv = std::env::var_os("CLIENTS_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv"));
    let python = venv.join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    let why = format!(
        "no client venv at {}: run scripts/client-venv.sh (scripts/test.sh does)",
        venv.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// Runs `tests/python/pymesos_scheduler.py`: a pymesos framework that subscribes to the
/// master at `master` (host:port, plain HTTP) as `principal` with `secret` and launches one
/// command task. It exits 0 once the task is TASK_FINISHED and prints why otherwise (a
/// refused SUBSCRIBE shows as `Failed with HTTP <code>: <body>`).
pub async fn run_pymesos(
    python: &std::path::Path,
    master: &str,
    principal: &str,
    secret: &str,
) -> CommandOutput {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/pymesos_scheduler.py");
    let args = [
        script.display().to_string(),
        master.into(),
        principal.into(),
        secret.into(),
    ];
    run_command(
        python,
        &args,
        &[("PYTHONUNBUFFERED".into(), "1".into())],
        // The script gives up by itself after 120 s.
        Duration::from_secs(180),
    )
    .await
}
