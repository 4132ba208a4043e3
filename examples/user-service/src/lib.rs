//! The rill demo: `UserService` (GetUser, ListUsers, CreateUsers, ChatStream) on SQLite.
//!
//! Run the server with `cargo run -p user-service --bin user-server` and exercise it with
//! `cargo run -p user-service --bin user-client`. `user-failover` runs three `user-server`
//! replicas behind a round_robin channel with a retry policy and kills one mid-run, losing no
//! call (`cargo build -p user-service --bins && cargo run -p user-service --bin user-failover`).

/// Messages and the generated server and client for `package user`.
#[allow(missing_docs)]
pub mod pb {
    rill::include_proto!("user");
}

pub mod access;
pub mod service;
pub mod store;

pub use service::Users;
pub use store::Store;

/// Server reflection for everything `user-server` serves: UserService, health and reflection
/// itself (their descriptors come from the code rill-build generated).
///
/// ```
/// let reflection = user_service::reflection();
/// assert!(reflection.service_names().contains(&"user.UserService"));
/// ```
pub fn reflection() -> rill_reflection::ReflectionService {
    rill_reflection::ReflectionService::builder()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(rill_health::FILE_DESCRIPTOR_SET)
        .build()
        // The generated sets are self-contained and distinct: this cannot fail.
        .expect("the generated descriptor sets are complete")
}
