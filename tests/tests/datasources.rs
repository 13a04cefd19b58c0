//! The datasource API over HTTP: create, list, describe, drop — and what
//! survives a restart.

use serde_json::{Value, json};
use strata_tests::StrataServer;

/// The reference `access` spec of shared/DATASET.md.
fn access_spec() -> Value {
    serde_json::from_str(strata_storage::spec::ACCESS_SPEC_JSON).unwrap()
}

#[test]
fn create_list_describe_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_in(&data_dir);

    let (status, created) = server.post_json("/v1/datasources", &access_spec().to_string());
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "access");
    assert_eq!(created["spec"]["dataSource"], "access");
    assert_eq!(created["segments"], json!([]));
    assert_eq!(created["rows"], 0);
    assert_eq!(created["time_bounds"], Value::Null);

    let (status, conflict) = server.post_json("/v1/datasources", &access_spec().to_string());
    assert_eq!(status, 409);
    assert_eq!(conflict["error"], "datasource_exists");
    assert!(conflict["message"].as_str().unwrap().contains("access"));

    let list = server.get_json("/v1/datasources");
    assert_eq!(list, json!(["access"]));

    // The stored spec survives a restart and reads back as it was created.
    let status = server.terminate();
    assert!(status.success());
    let server = StrataServer::start_in(&data_dir);
    let described = server.get_json("/v1/datasources/access");
    assert_eq!(described["spec"], created["spec"]);
    assert_eq!(
        described["spec"]["metricsSpec"].as_array().unwrap().len(),
        access_spec()["metricsSpec"].as_array().unwrap().len()
    );

    let dropped = server
        .client()
        .delete(server.url("/v1/datasources/access"))
        .send()
        .unwrap();
    assert_eq!(dropped.status(), 200);
    assert_eq!(dropped.json::<Value>().unwrap()["dropped"], "access");
    let gone = server
        .client()
        .get(server.url("/v1/datasources/access"))
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.json::<Value>().unwrap()["error"], "unknown_datasource");
    let list = server.get_json("/v1/datasources");
    assert_eq!(list, json!([]));
}

#[test]
fn invalid_specs_get_400_naming_the_problem() {
    let server = StrataServer::start();

    let mut typo = access_spec();
    typo["metricsSpec"][1]["type"] = json!("longSun");
    let (status, body) = server.post_json("/v1/datasources", &typo.to_string());
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_spec");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("metricsSpec[1]") && message.contains("longSun"),
        "{message}"
    );

    let mut reserved = access_spec();
    reserved["dataSource"] = json!("druid");
    let (status, body) = server.post_json("/v1/datasources", &reserved.to_string());
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("druid"),
        "{body}"
    );

    let (status, body) = server.post_json("/v1/datasources", "{not json");
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_spec");

    let response = server
        .client()
        .delete(server.url("/v1/datasources/nope"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);

    // Nothing was created, and the server is still up.
    let list = server.get_json("/v1/datasources");
    assert_eq!(list, json!([]));
}
