//! Images for the decision tests: registered, unfenced brokers and a topic with its partitions.

use uuid::Uuid;

use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

/// An image with brokers `ids` registered and unfenced (host `h`, port 9092, no rack).
pub fn with_brokers(ids: impl IntoIterator<Item = i32>) -> MetadataImage {
    let mut image = MetadataImage::default();
    for id in ids {
        image.replay(&MetadataRecord::RegisterBroker {
            broker_id: id,
            incarnation_id: Uuid::from_u128(id as u128),
            host: "h".into(),
            port: 9092,
            endpoints: Vec::new(),
            rack: None,
            fenced: false,
        });
    }
    image
}
