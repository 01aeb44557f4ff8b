//! Generates the tonic/prost code for `raft.proto`, `controller.proto`, `broker_api.proto` and
//! `metadata.proto` with the vendored `protoc`, so a fresh machine needs nothing installed.
//!
//! The vendored binary is passed through `Config::protoc_executable` rather than by setting `PROTOC`:
//! `std::env::set_var` is `unsafe` in edition 2024 and the workspace denies `unsafe_code`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["raft.proto", "controller.proto", "broker_api.proto", "metadata.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(config, &protos, &["."])?;
    Ok(())
}
