//! `strata serve` as a user meets it: health, metrics, JSON errors, the
//! data-directory lock and a clean shutdown on SIGTERM.

use std::process::Command;

use strata_tests::{StrataServer, strata_bin};

#[test]
fn answers_health_and_metrics() {
    let server = StrataServer::start();
    let response = server
        .client()
        .get(server.url("/status/health"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap(),
        serde_json::json!(true)
    );

    let metrics = server.get_text("/metrics");
    let served: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"strata_http_requests_total{route="/status/health",status="200"} "#)
        })
        .unwrap_or_else(|| panic!("no health counter in {metrics}"))
        .parse()
        .unwrap();
    // The harness polled health at least once before this test's request.
    assert!(served >= 2, "{metrics}");
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    let server = StrataServer::start();
    let response = server
        .client()
        .get(server.url("/no/such/thing"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("README"));

    let response = server
        .client()
        .delete(server.url("/status/health"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap()["error"],
        "method_not_allowed"
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let server = StrataServer::start();
    let output = Command::new(strata_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    // The first server is unaffected.
    assert!(server.is_healthy());
}

#[test]
fn sigterm_shuts_down_cleanly_and_releases_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_in(&data_dir);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    // The lock is released: a new server starts on the same directory.
    let again = StrataServer::start_in(&data_dir);
    assert!(again.is_healthy());
    let log = again.drain_log().join("\n");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(strata_bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}
