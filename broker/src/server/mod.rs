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

/// Accepts connections until `shutdown` flips to true.
pub async fn run(state: Arc<BrokerState>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection::serve(state.clone(), stream, peer));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}
