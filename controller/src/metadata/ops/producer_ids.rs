//! Producer-id blocks handed to brokers for idempotent and transactional producers.

use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

/// Hands out a block of `size` producer ids: returns the first id and the record that reserves them.
/// The block is reserved once the record is committed; until then the caller must not hand it out.
pub fn allocate_producer_ids(image: &MetadataImage, size: i64) -> (i64, MetadataRecord) {
    let first = image.next_producer_id();
    (first, MetadataRecord::ProducerIds { next_producer_id: first.saturating_add(size.max(0)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_do_not_overlap() {
        let mut image = MetadataImage::default();
        let (first, record) = allocate_producer_ids(&image, 1000);
        image.replay(&record);
        let (second, _) = allocate_producer_ids(&image, 1000);
        assert_eq!((first, second), (0, 1000));
    }
}
