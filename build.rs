//! Compiles `proto/orders/v1/orders.proto` with protox (no protoc needed) and
//! generates the prost messages and tonic client/server with tonic-prost-build.
//! The encoded descriptor set, with source info so reflection shows the doc
//! comments, is written to `$OUT_DIR/orders_descriptor.bin`.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_file("orders/v1/orders.proto")?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("orders_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
