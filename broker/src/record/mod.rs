//! Record batches (magic v2): header parsing and patching, record decoding, compression codecs.

pub mod batch;
