use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/mesos/v1/mesos.proto",
    "proto/mesos/v1/scheduler/scheduler.proto",
    "proto/mesos/v1/executor/executor.proto",
    "proto/mesos/v1/master/master.proto",
    "proto/mesos/v1/agent/agent.proto",
    "proto/mesos/v1/quota/quota.proto",
    "proto/mesos/v1/maintenance/maintenance.proto",
    "proto/mesos/v1/allocator/allocator.proto",
    "proto/mesos/internal/agent.proto",
];

/// Fields generated as `Option<Box<_>>`; see `main`.
const BOXED: &[&str] = &[
    ".mesos.v1.Resource.disk",
    ".mesos.v1.Resource.reservation",
    ".mesos.v1.Task.container",
    ".mesos.v1.Task.discovery",
    ".mesos.v1.Task.health_check",
    ".mesos.v1.TaskStatus.check_status",
    ".mesos.v1.TaskStatus.container_status",
    ".mesos.v1.TaskStatus.limitation",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc keeps the build independent of whatever the host has.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    // The master API imports google/protobuf/duration.proto, shipped with the vendored protoc.
    let well_known = protoc_bin_vendored::include_path()?;
    let well_known = well_known
        .to_str()
        .ok_or("the vendored protoc include path is not UTF-8")?;
    let includes = ["proto", well_known];

    for path in PROTOS {
        println!("cargo:rerun-if-changed={path}");
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("file_descriptor_set.bin");

    // First pass: produce the descriptor set and tag every message with the
    // ReflectMessage derive pointing at crate::DESCRIPTOR_POOL.
    let mut config = prost_build::Config::new();
    // Large optional fields that are rarely set are boxed, so that every message holding
    // them stays small: a `Resource` was 1,232 bytes inline (its DiskInfo alone ~900), and
    // the master keeps one per resource of every agent, offer and task (issue 6, memory).
    for field in BOXED {
        config.boxed(field);
    }
    prost_reflect_build::Builder::new()
        .file_descriptor_set_path(&descriptor_path)
        .descriptor_pool("crate::DESCRIPTOR_POOL")
        .configure(&mut config, PROTOS, &includes)?;

    // Second pass: the real code generation, with the gRPC service for the
    // agent<->master stream, reusing the descriptor set from the first pass.
    config.skip_protoc_run();
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // The rpc is named Connect; the generated `connect` constructor of the
        // transport helpers would clash with it. Build clients with
        // `AgentServiceClient::new(channel)` instead.
        .build_transport(false)
        // Small per-stream buffers: the master keeps one stream per agent (src/codec.rs).
        .codec_path("crate::codec::SmallBufferCodec")
        .compile_with_config(config, PROTOS, &includes)?;
    Ok(())
}
