//! The example binary: its calls' spans and metrics come out of opentelemetry-stdout.

#[test]
fn the_example_exports_spans_and_metrics_to_stdout() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otel-example"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reply: \"hello, rill\""), "{stdout}");
    assert!(stdout.contains("NOT_FOUND"), "{stdout}");
    // Two calls of four spans each (client and server, Relay and SayHello).
    assert_eq!(stdout.matches("Name         : demo.Greeter/").count(), 8);
    assert_eq!(stdout.matches("Kind         : Server").count(), 4);
    for metric in [
        "grpc.server.call.started",
        "grpc.server.call.duration",
        "grpc.client.attempt.started",
        "grpc.client.attempt.duration",
        "grpc.client.call.duration",
    ] {
        assert!(
            stdout.contains(&format!("Name         : {metric}\n")),
            "{metric}"
        );
    }
}
