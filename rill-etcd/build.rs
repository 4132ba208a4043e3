//! Compiles the subset of etcd's v3 API that rill-etcd uses (KV, Watch, Lease; `proto/etcd`,
//! field numbers identical to etcd's) into rill clients, and the small `Replica` service that
//! the example and tests serve.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    rill_build::configure().compile(
        &[
            "proto/etcd/api/mvccpb/kv.proto",
            "proto/etcd/api/etcdserverpb/rpc.proto",
            "proto/rill_etcd/replica.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
