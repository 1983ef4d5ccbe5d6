//! Generates protobuf types from the project's `.proto` files alone (prost, no project
//! crate), so the protobuf tests check the wire format the way an outside client would.

const PROTOS: &[&str] = &[
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "mesos/v1/executor/executor.proto",
    "mesos/v1/master/master.proto",
    "mesos/v1/agent/agent.proto",
    "mesos/v1/quota/quota.proto",
    "mesos/v1/maintenance/maintenance.proto",
    "mesos/v1/allocator/allocator.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let root = std::path::Path::new("../proto/proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let protos: Vec<_> = PROTOS.iter().map(|p| root.join(p)).collect();
    // google/protobuf/duration.proto comes with the vendored protoc.
    let includes = [root.to_path_buf(), protoc_bin_vendored::include_path()?];
    prost_build::Config::new().compile_protos(&protos, &includes)?;
    Ok(())
}
