//! The binary's logs: with STORYXP_LOG_FORMAT=json, one JSON object per line, a
//! request's lines carrying its request id and operation name.

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::common::{SECRET, fresh_database};

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_request_id_and_operation() {
    let database_url = fresh_database().await;
    let port = crate::common::free_port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_storyxp"))
        .arg("serve")
        .env("DATABASE_URL", &database_url)
        .env("JWT_SECRET", std::str::from_utf8(SECRET).unwrap())
        .env("STORYXP_ADDR", format!("127.0.0.1:{port}"))
        .env("STORYXP_LOG_FORMAT", "json")
        .env("RUST_LOG", "storyxp=debug")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = crate::common::wait_until_healthy(&base, 30).await;
    assert!(ready, "the server came up");

    let response = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "query Rewards { xpRewards { xp } }", "operationName": "Rewards" }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(response.status(), 200);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut stderr = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let status = server.wait().await.unwrap();
    assert!(status.success(), "{status}\n{stderr}");

    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert!(
        lines.len() >= 3,
        "start-up, the request, shutdown:\n{stderr}"
    );
    for line in &lines {
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(line["message"].is_string(), "{line}");
    }
    let request_lines: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == request_id.as_str())
        .collect();
    assert_eq!(request_lines.len(), 1, "{stderr}");
    let line = request_lines[0];
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["message"], "graphql request");
    assert_eq!(line["span"]["operation"], "Rewards");
    assert_eq!(line["operation_type"], "query");
    assert_eq!(line["outcome"], "ok");
}
