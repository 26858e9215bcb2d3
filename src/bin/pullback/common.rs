//! What the commands share: the two kinds of failure, loading a scenario, writing files.

use pullback::run::presets;
use pullback::run::scenario::Scenario;
use pullback::Error;
use std::path::Path;

/// Why a command failed: bad input (exit status 2) or a file that could not be read or written
/// (exit status 1). Either is one line on stderr.
pub enum Failure {
    Usage(String),
    Io(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(m) => Failure::Io(m),
            other => Failure::Usage(other.to_string()),
        }
    }
}

/// Writes to stdout; a closed pipe (`pullback presets | head -1`) is not an error.
pub fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Io(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// One JSON Lines record on stdout (flushed, so that a script reading the pipe sees it now).
pub fn json_line(v: &serde_json::Value) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{v}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Io(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

pub fn unknown_preset(name: &str) -> Failure {
    let names: Vec<&str> = presets::all().iter().map(|p| p.name).collect();
    Failure::Usage(format!(
        "`{name}` is neither a readable file nor a preset; presets: {}",
        names.join(", ")
    ))
}

/// A scenario from a JSON file, a trace file (its scenario) or a preset name.
pub fn load_scenario(source: &str) -> Result<Scenario, Failure> {
    let path = Path::new(source);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Io(format!("cannot read {source}: {e}")))?;
        // A trace file reruns its scenario.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if v.get("format").and_then(|f| f.as_str()) == Some("pullback-trace") {
                let sc = v.get("scenario").cloned().unwrap_or_default();
                return Scenario::from_json(&sc.to_string())
                    .map_err(|e| Failure::Usage(format!("{source}: scenario.{e}")));
            }
        }
        return Scenario::from_json(&text).map_err(|e| Failure::Usage(format!("{source}: {e}")));
    }
    presets::find(source)
        .map(|p| p.scenario)
        .ok_or_else(|| unknown_preset(source))
}

pub fn create_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Io(format!("cannot create {}: {e}", dir.display())))
}

pub fn write_file(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::Io(format!("cannot write {}: {e}", path.display())))
}

/// Writes `path` so that it is either absent or complete: a temporary file beside it, renamed
/// over it (a rename within a directory is atomic), so that a killed sweep never leaves half a
/// row that a restart would take for a finished run.
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), Failure> {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    write_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        Failure::Io(format!(
            "cannot rename {} to {}: {e}",
            tmp.display(),
            path.display()
        ))
    })
}

pub fn read_text(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Io(format!("cannot read {}: {e}", path.display())))
}
