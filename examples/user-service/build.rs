//! Compiles proto/user.proto (protox, no protoc) into messages, server and client.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    rill_build::compile_protos(&["proto/user.proto"], &["proto"])?;
    Ok(())
}
