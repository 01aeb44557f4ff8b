//! The Kafka listener: accepts connections and runs one task per connection.
//!
//! Owns sockets and framing only; what a request means is decided in `handlers`. It must never let a
//! single client's bytes take down the process: malformed frames close that connection alone.

mod connection;
pub mod frame;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::BrokerState;

/// Accepts connections on the listener named `listener_name` until `shutdown` flips to true; every
/// request on them knows that name (Metadata answers with that listener's endpoints).
pub async fn run(
    state: Arc<BrokerState>,
    listener: TcpListener,
    listener_name: Arc<str>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection::serve(state.clone(), stream, peer, listener_name.clone()));
                }
                Err(e) => tracing::warn!(listener = %listener_name, error = %e, "accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
