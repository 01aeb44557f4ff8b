//! Where the `strom` binary is.

use std::path::PathBuf;

use anyhow::{bail, ensure};

/// Environment variable naming the `strom` binary to run.
pub const STROM_BIN_ENV: &str = "STROM_BIN";

/// The `strom` binary: `$STROM_BIN`, else `strom` next to the current executable or up to two
/// directories above it (`target/debug/strom-chaos` and `target/debug/deps/<test>` both find
/// `target/debug/strom`).
pub fn find_strom_bin() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(STROM_BIN_ENV) {
        let path = PathBuf::from(path);
        ensure!(path.is_file(), "{STROM_BIN_ENV}={} is not a file", path.display());
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    let name = format!("strom{}", std::env::consts::EXE_SUFFIX);
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(3).map(|dir| dir.join(&name)).collect();
    match candidates.iter().find(|path| path.is_file()) {
        Some(path) => Ok(path.clone()),
        None => bail!(
            "strom binary not found (looked at {candidates:?}); build it with `cargo build -p strom-cli` \
             or set {STROM_BIN_ENV}"
        ),
    }
}
