//! Compiles the protos under `proto/` with protox (no system `protoc`) and generates the
//! prost messages, the tonic server and the tonic client (the client is used by the tests).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: [&str; 4] = [
        "proto/scalekit/v1/organizations/organizations.proto",
        "proto/scalekit/v1/commons/commons.proto",
        "proto/scalekit/v1/errdetails/errdetails.proto",
        "proto/google/rpc/status.proto",
    ];
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(FILES, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
