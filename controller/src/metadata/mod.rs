//! Cluster metadata: records, the image they replay into, and the pure operations that produce records.
//!
//! Nothing outside `image.rs` mutates an image; operations only return records.

pub mod acl;
pub mod image;
pub mod ops;
pub mod records;
pub mod wire;

pub use image::{
    BrokerEndpoint, BrokerImage, CommittedOffset, GroupOffsets, LeaderRecoveryState, MetadataImage,
    PartitionImage, TopicImage,
};
pub use records::MetadataRecord;
