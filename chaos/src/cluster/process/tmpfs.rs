//! [`Tmpfs`]: a small tmpfs mounted on a broker's data directory, so the chaos run can fill that
//! broker's disk (and only that one's) by writing a filler file until `ENOSPC`.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::cluster::command;

/// The file [`Tmpfs::fill`] writes; the broker ignores plain files in its data dir.
const FILLER: &str = "strom-chaos-disk-filler";
/// Size of one filler write.
const CHUNK: usize = 1 << 20;
/// Deadline of a `mount` or `umount`.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(30);

/// A mounted tmpfs; unmounted on drop.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
    mounted: bool,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mb` MiB on `path` (created if missing). Needs root (`CAP_SYS_ADMIN`).
    pub fn mount(path: &Path, size_mb: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
        let size = format!("size={size_mb}m,mode=0755");
        command::run(
            Command::new("mount").args(["-t", "tmpfs", "-o", &size, "tmpfs"]).arg(path),
            MOUNT_TIMEOUT,
        )
        .with_context(|| format!("mount a tmpfs on {}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), mounted: true })
    }

    /// Writes the filler file until the filesystem is full; returns the bytes written.
    pub fn fill(&self) -> anyhow::Result<u64> {
        let path = self.path.join(FILLER);
        let mut file = File::create(&path).with_context(|| format!("create {}", path.display()))?;
        let chunk = vec![0xA5u8; CHUNK];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => return Ok(written),
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == ErrorKind::StorageFull => return Ok(written),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e).with_context(|| format!("write {}", path.display())),
            }
        }
    }

    /// Deletes the filler file (nothing to do if there is none).
    pub fn free(&self) -> anyhow::Result<()> {
        let path = self.path.join(FILLER);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Unmounts (lazily if it is still busy). Idempotent.
    pub fn unmount(&mut self) -> anyhow::Result<()> {
        if !self.mounted {
            return Ok(());
        }
        let plain = command::run(Command::new("umount").arg(&self.path), MOUNT_TIMEOUT);
        if let Err(err) = plain {
            command::run(Command::new("umount").arg("-l").arg(&self.path), MOUNT_TIMEOUT)
                .with_context(|| format!("umount {} (plain umount: {err:#})", self.path.display()))?;
        }
        self.mounted = false;
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(err) = self.unmount() {
            tracing::error!(error = %format!("{err:#}"), "tmpfs left mounted");
        }
    }
}
