//! Cluster metadata: records, the image they replay into, the pure operations that produce records,
//! and the local durable store.
//!
//! ```text
//! handler ─► ops::* (pure: image + request → records | error) ─► store.commit (fsync) ─► new image
//! ```
//! Nothing outside `image.rs` mutates an image, and nothing but `store.rs` writes the metadata log.

pub mod image;
pub mod ops;
pub mod records;
pub mod store;

pub use image::{BrokerImage, MetadataImage, PartitionImage, TopicImage};
pub use records::MetadataRecord;
pub use store::{MetadataStore, MetadataStoreError};
