//! ApiVersions (key 18), versions 0–4. The response header is always v0.

use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

use super::SUPPORTED_APIS;
use crate::error_code::ErrorCode;

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED_APIS
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default().with_api_key(*key as i16).with_min_version(*min).with_max_version(*max)
        })
        .collect()
}

/// The full list of supported APIs.
pub fn handle() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

/// UNSUPPORTED_VERSION plus the key list, encoded as v0 so any client can read it and retry lower.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    handle().with_error_code(ErrorCode::UnsupportedVersion.code())
}
