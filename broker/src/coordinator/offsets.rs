//! Offset commits, batched into controller writes: the commits that arrive while a batch is being
//! written wait and go out together as one `CommitOffsets` request (one Raft entry), so many groups
//! committing every second cost a few Raft writes per second, not one per commit. A commit is answered
//! once the controller committed it and this broker's image shows it, so OffsetFetch on this broker
//! reads what was just committed.

use std::sync::{Arc, Mutex};

use strom_controller::request::{ControllerReply, ControllerRequest, GroupCommit};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error_code::ErrorCode;
use crate::metadata::ops::{OffsetCommitEntry, OpError};
use crate::state::BrokerState;

/// Groups sent in one controller write at most.
const MAX_GROUPS_PER_BATCH: usize = 1_000;

/// One group's commit waiting for its batch.
struct PendingCommit {
    commit: GroupCommit,
    reply: oneshot::Sender<Result<Vec<ErrorCode>, OpError>>,
}

/// The queue commits wait in; [`run`] drains it.
pub struct OffsetCommitter {
    tx: mpsc::UnboundedSender<PendingCommit>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<PendingCommit>>>,
}

impl Default for OffsetCommitter {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { tx, rx: Mutex::new(Some(rx)) }
    }
}

fn unavailable() -> OpError {
    OpError {
        code: ErrorCode::CoordinatorNotAvailable,
        message: "the offset committer is not running".into(),
    }
}

impl OffsetCommitter {
    /// Commits `entries` for `group`; returns an error code per entry (in order), or the error that
    /// rejected the whole commit.
    pub async fn commit(
        &self,
        group: String,
        entries: Vec<OffsetCommitEntry>,
    ) -> Result<Vec<ErrorCode>, OpError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(PendingCommit { commit: GroupCommit { group, entries }, reply })
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

/// Drains the commit queue until `shutdown` flips: one controller write per batch.
pub async fn run(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let Some(mut rx) = state.offsets.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    loop {
        let first = tokio::select! {
            next = rx.recv() => match next { Some(first) => first, None => return },
            _ = shutdown.changed() => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_GROUPS_PER_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let (commits, replies): (Vec<GroupCommit>, Vec<_>) =
            batch.into_iter().map(|p| (p.commit, p.reply)).unzip();
        let groups = commits.len();
        let request = ControllerRequest::CommitOffsets { commits, now_ms: state.clock.now_ms() };
        match state.execute(request).await {
            Ok(ControllerReply::OffsetsCommitted { results }) if results.len() == groups => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let outcome = result
                        .map(|codes| {
                            codes
                                .into_iter()
                                .map(|c| ErrorCode::from_code(c).unwrap_or(ErrorCode::UnknownServerError))
                                .collect()
                        })
                        .map_err(|e| OpError {
                            code: ErrorCode::from_code(e.code).unwrap_or(ErrorCode::UnknownServerError),
                            message: e.message,
                        });
                    let _ = reply.send(outcome);
                }
            }
            Ok(other) => {
                for reply in replies {
                    let _ = reply.send(Err(OpError {
                        code: ErrorCode::UnknownServerError,
                        message: format!("unexpected reply {other:?}"),
                    }));
                }
            }
            Err(e) => {
                // The controller is unreachable or refused the write: the client retries.
                let code = match e.code {
                    ErrorCode::RequestTimedOut | ErrorCode::NotController => {
                        ErrorCode::CoordinatorNotAvailable
                    }
                    code => code,
                };
                for reply in replies {
                    let _ = reply.send(Err(OpError { code, message: e.message.clone() }));
                }
            }
        }
    }
}
