//! [`FaultSpec`]: which kinds of faults a run injects, parsed from `--faults`.

use std::fmt;
use std::str::FromStr;

use crate::history::FaultKind;

/// `--faults` names and the kinds they select, in [`FaultKind`] order.
const NAMES: [(&str, FaultKind); 8] = [
    ("kill", FaultKind::KillBroker),
    ("leader", FaultKind::KillLeader),
    ("controller", FaultKind::KillControllerLeader),
    ("pause", FaultKind::Pause),
    ("partition", FaultKind::Partition),
    ("restart", FaultKind::RollingRestart),
    ("disk", FaultKind::DiskFull),
    ("skew", FaultKind::ClockSkew),
];

/// The fault kinds of a run: sorted, without duplicates, so `kill,pause` and `pause,kill` give the
/// same schedule for a seed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultSpec {
    kinds: Vec<FaultKind>,
}

impl FaultSpec {
    /// Every kind the nemesis can inject.
    pub fn all() -> Self {
        Self { kinds: NAMES.iter().map(|(_, kind)| *kind).collect() }
    }

    /// The given kinds, sorted and deduplicated.
    pub fn new(kinds: impl IntoIterator<Item = FaultKind>) -> Self {
        let mut kinds: Vec<FaultKind> = kinds.into_iter().collect();
        kinds.sort();
        kinds.dedup();
        Self { kinds }
    }

    /// The selected kinds, in [`FaultKind`] order.
    pub fn kinds(&self) -> &[FaultKind] {
        &self.kinds
    }

    /// The `--faults` name of `kind` (`kill`, `leader`, …), if the nemesis injects it.
    pub fn name(kind: FaultKind) -> Option<&'static str> {
        NAMES.iter().find(|(_, k)| *k == kind).map(|(name, _)| *name)
    }
}

/// Why a `--faults` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFault(pub String);

impl fmt::Display for UnknownFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = NAMES.iter().map(|(name, _)| *name).collect();
        write!(
            f,
            "unknown fault `{}`: expected `all`, `none` or a comma list of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownFault {}

impl FromStr for FaultSpec {
    type Err = UnknownFault;

    /// `all`, `none`, or a comma list of `kill`, `leader`, `controller`, `pause`, `partition`,
    /// `restart`, `disk`, `skew` (the [`FaultKind`] names such as `kill_broker` are accepted too).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "all" => return Ok(Self::all()),
            "none" | "" => return Ok(Self::default()),
            _ => {}
        }
        let mut kinds = Vec::new();
        for word in text.split(',').map(str::trim) {
            let found = NAMES.iter().find(|(name, kind)| *name == word || kind.name() == word);
            match found {
                Some((_, kind)) => kinds.push(*kind),
                None => return Err(UnknownFault(word.to_string())),
            }
        }
        Ok(Self::new(kinds))
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kinds.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.kinds.iter().filter_map(|kind| Self::name(*kind)).collect();
        f.write_str(&names.join(","))
    }
}
