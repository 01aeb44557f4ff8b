//! Clock skew for [`super::ProcessCluster`] nodes: [libfaketime] preloaded into every node process,
//! reading its offset from a per-node [`ClockFile`] the nemesis rewrites.
//!
//! ```text
//!  strom-chaos ──write "+37" (tmp file + rename)──► <root>/broker-2.faketime
//!                                                       │ re-read at most every FAKETIME_CACHE_DURATION
//!  strom broker 2 (LD_PRELOAD=libfaketimeMT.so.1) ◄─────┘ CLOCK_REALTIME = host + 37 s
//!                                                          CLOCK_MONOTONIC untouched (tokio timers)
//! ```
//!
//! libfaketime 0.9.10 semantics this relies on (its README, and its source `libfaketime.c`):
//! - a file line starting with `+` or `-` is a relative offset in seconds (`+0`, `-45`; an `m`, `h`,
//!   `d` or `y` suffix scales it, anything else is ignored, so `+0s` means the same as `+0`); a
//!   missing or empty file means no offset;
//! - the file is read again when more than `FAKETIME_CACHE_DURATION` whole seconds have passed since
//!   the last read, so with `1` a new offset applies within about 2 s;
//! - `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves `CLOCK_MONOTONIC` (and `_RAW`, `_COARSE`, `BOOTTIME`)
//!   alone: only the wall clock moves. (A `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` fails
//!   with `EINVAL` under this setting; Rust's `thread::sleep` uses the relative form, which works.)
//! - the library creates `/dev/shm/faketime_shm_<pid>` and `/dev/shm/sem.faketime_sem_<pid>` and
//!   removes them only on a clean exit: [`remove_shm`] removes them after a node is reaped.
//!
//! `libfaketimeMT.so.1` (its calls serialized by a mutex) is preferred over `libfaketime.so.1`: the
//! nodes are multi-threaded and the plain library refreshes its cached offset without a lock.
//!
//! [libfaketime]: https://github.com/wolfcw/libfaketime

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Environment variable naming the libfaketime shared object to preload; empty turns clock skew off.
pub const LIBFAKETIME_ENV: &str = "STROM_CHAOS_LIBFAKETIME";

/// Where Debian's `libfaketime` package installs the library, in order of preference.
const CANDIDATES: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
];

/// Seconds libfaketime caches the offset file's contents (`FAKETIME_CACHE_DURATION`).
const CACHE_DURATION_SECS: &str = "1";

/// The libfaketime shared object the nodes are started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libfaketime {
    path: PathBuf,
}

impl Libfaketime {
    /// The library named by [`LIBFAKETIME_ENV`] if set, else the first of the Debian multiarch paths
    /// (x86_64, aarch64) that exists. `Err` says why there is none (the reason a skew is skipped).
    pub fn find() -> Result<Self, String> {
        let candidates: Vec<&Path> = CANDIDATES.iter().map(Path::new).collect();
        Self::find_in(std::env::var_os(LIBFAKETIME_ENV), &candidates)
    }

    /// [`Libfaketime::find`] with the override value and the candidate paths given.
    pub fn find_in(overridden: Option<OsString>, candidates: &[&Path]) -> Result<Self, String> {
        match overridden {
            Some(value) if value.is_empty() => Err(format!("{LIBFAKETIME_ENV} is empty: clock skew is off")),
            Some(value) => {
                let path = PathBuf::from(value);
                match path.is_file() {
                    true => Ok(Self { path }),
                    false => Err(format!("{LIBFAKETIME_ENV}={} is not a file", path.display())),
                }
            }
            None => match candidates.iter().find(|path| path.is_file()) {
                Some(path) => Ok(Self { path: path.to_path_buf() }),
                None => {
                    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
                    Err(format!(
                        "libfaketime not found (install the `faketime` package or set {LIBFAKETIME_ENV}); \
                         tried {}",
                        tried.join(", ")
                    ))
                }
            },
        }
    }

    /// The shared object.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The environment of a process whose wall clock follows `clock_file`: `LD_PRELOAD`,
    /// `FAKETIME_TIMESTAMP_FILE`, `FAKETIME_DONT_FAKE_MONOTONIC=1`, `FAKETIME_CACHE_DURATION=1`.
    pub fn env(&self, clock_file: &Path) -> Vec<(String, OsString)> {
        vec![
            ("LD_PRELOAD".to_string(), self.path.clone().into_os_string()),
            ("FAKETIME_TIMESTAMP_FILE".to_string(), clock_file.as_os_str().to_owned()),
            ("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".into()),
            ("FAKETIME_CACHE_DURATION".to_string(), CACHE_DURATION_SECS.into()),
        ]
    }
}

/// True if `env` (as [`Libfaketime::env`] builds it) preloads libfaketime.
pub fn preloads(env: &[(String, OsString)]) -> bool {
    env.iter().any(|(key, _)| key == "FAKETIME_TIMESTAMP_FILE")
}

/// One node's offset file: a single line, `+0` or a signed number of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockFile {
    path: PathBuf,
}

impl ClockFile {
    /// Creates (or overwrites) the file at `path` with offset 0.
    pub fn create(path: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let file = Self { path: path.into() };
        file.set_offset_secs(0)?;
        Ok(file)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the offset from the host's wall clock, in seconds (negative: behind). Written to a
    /// temporary file and renamed over the old one, so a reader never sees a half-written line.
    pub fn set_offset_secs(&self, offset_secs: i64) -> anyhow::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, format!("{offset_secs:+}\n"))
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("rename {} to {}", tmp.display(), self.path.display()))
    }

    /// The offset the file holds now, in seconds (0 for a missing or empty file, as libfaketime reads it).
    pub fn offset_secs(&self) -> anyhow::Result<i64> {
        let text = match std::fs::read_to_string(&self.path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            read => read.with_context(|| format!("read {}", self.path.display()))?,
        };
        let line = text.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Ok(0);
        }
        line.parse().with_context(|| format!("{}: not an offset in seconds: {line:?}", self.path.display()))
    }
}

/// Removes the shared memory and semaphore libfaketime created for process `pid` (left behind
/// when it was killed). Call only once `pid` is reaped; missing files are fine.
pub fn remove_shm(pid: u32) {
    for name in [format!("faketime_shm_{pid}"), format!("sem.faketime_sem_{pid}")] {
        let path = Path::new("/dev/shm").join(name);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove libfaketime's shared memory");
        }
    }
}
