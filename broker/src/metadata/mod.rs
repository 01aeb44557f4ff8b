//! Cluster metadata as this broker sees it: the records, image and operations of `strom-controller`,
//! and the local durable store that commits records in single-node mode.
//!
//! ```text
//! handler ─► ops::* (pure: image + request → records | error) ─► store.commit (fsync) ─► new image
//! ```

pub mod cluster;
pub mod store;

pub use store::{MetadataStore, MetadataStoreError};
pub use strom_controller::metadata::{
    BrokerEndpoint, BrokerImage, MetadataImage, MetadataRecord, PartitionImage, TopicImage, image, ops,
    records,
};
