//! # strata-tests
//!
//! End-to-end tests start the real `strata` binary — the one users run — and
//! talk to it over HTTP, as a client would. [`StrataServer`] is the harness:
//! it starts `strata serve` on a free port with its own data directory, waits
//! until the server answers its health check, and stops it when dropped.
//!
//! It also speaks for the tests: [`StrataServer::get_json`],
//! [`StrataServer::post_json`], [`StrataServer::ingest`] and friends send
//! the requests every test repeats through one kept-alive HTTP client, so a
//! test reads as the requests it makes and the answers it checks.
//!
//! The binary is the one `cargo test --workspace` builds next to the test
//! executables; set `STRATA_BIN` to test another build.

pub mod kafka_broker;
pub mod text_oracle;
pub mod web_events;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// The `strata` binary under test.
pub fn strata_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("STRATA_BIN") {
        return PathBuf::from(bin);
    }
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("the test executable has a path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("strata");
    assert!(
        bin.exists(),
        "{} does not exist: build it first (`cargo build -p strata-tools`; ./scripts/test.sh does) or set STRATA_BIN",
        bin.display()
    );
    bin
}

/// A running `strata serve`.
pub struct StrataServer {
    child: Child,
    base_url: String,
    data_dir: PathBuf,
    _owned_dir: Option<tempfile::TempDir>,
    log: mpsc::Receiver<String>,
    client: Client,
}

impl StrataServer {
    /// Starts a server with a fresh temporary data directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data_dir = dir.path().join("data");
        let mut server = Self::start_in(&data_dir);
        server._owned_dir = Some(dir);
        server
    }

    /// Starts a server on `data_dir` (kept after the server stops, so a test
    /// can restart on the same data).
    pub fn start_in(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Starts a server on `data_dir` with more `strata serve` flags, such as
    /// `["--persist-period", "1s"]`.
    pub fn start_with(data_dir: &Path, flags: &[&str]) -> Self {
        let mut child = Command::new(strata_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(flags)
            .env("STRATA_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strata serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[strata] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("strata serve did not report its address in 30 s"));
            if let Some(at) = line.find("listening on ") {
                let rest = &line[at + "listening on ".len()..];
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        };
        let server = Self {
            child,
            base_url: format!("http://{addr}"),
            data_dir: data_dir.to_path_buf(),
            _owned_dir: None,
            log,
            client: Client::new(),
        };
        server.wait_healthy(deadline);
        server
    }

    fn wait_healthy(&self, deadline: Instant) {
        while Instant::now() < deadline {
            if self.is_healthy() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("strata serve did not become healthy in 30 s");
    }

    /// `path` on this server, e.g. `url("/status/health")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id, e.g. to read `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The HTTP client the helpers below share, for requests they do not
    /// cover (a DELETE, an answer's headers).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether `/status/health` answers with a success status.
    pub fn is_healthy(&self) -> bool {
        self.client
            .get(self.url("/status/health"))
            .send()
            .is_ok_and(|response| response.status().is_success())
    }

    /// GETs `path` and reads the answer as JSON, whatever its status.
    pub fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
            .json()
            .unwrap_or_else(|error| panic!("GET {path}: the answer is not JSON: {error}"))
    }

    /// GETs `path` and reads the answer as text, e.g. `/metrics`.
    pub fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .and_then(Response::text)
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// POSTs `body` as JSON to `path`; returns the status and the JSON answer.
    pub fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        let status = response.status().as_u16();
        let answer = response.json().unwrap_or_else(|error| {
            panic!("POST {path}: the {status} answer is not JSON: {error}")
        });
        (status, answer)
    }

    /// Creates a datasource from its spec and returns the view the server
    /// answers; panics unless the answer is `201 Created`.
    pub fn create_datasource(&self, spec_json: &str) -> Value {
        let (status, created) = self.post_json("/v1/datasources", spec_json);
        assert_eq!(status, 201, "creating a datasource: {created}");
        created
    }

    /// POSTs an NDJSON `body` to the ingest endpoint of `datasource`, with a
    /// `content-encoding` header when one is given, and returns the answer
    /// unread (for its headers, or a status that has no JSON body).
    pub fn send_ingest(
        &self,
        datasource: &str,
        body: Vec<u8>,
        content_encoding: Option<&str>,
    ) -> Response {
        let path = format!("/v1/datasources/{datasource}/ingest");
        let mut request = self
            .client
            .post(self.url(&path))
            .header("content-type", "application/x-ndjson")
            .body(body);
        if let Some(encoding) = content_encoding {
            request = request.header("content-encoding", encoding);
        }
        request
            .send()
            .unwrap_or_else(|error| panic!("POST {path}: {error}"))
    }

    /// [`send_ingest`](Self::send_ingest), then the status and the JSON
    /// answer (an ingest report or an error).
    pub fn ingest(
        &self,
        datasource: &str,
        body: Vec<u8>,
        content_encoding: Option<&str>,
    ) -> (u16, Value) {
        let response = self.send_ingest(datasource, body, content_encoding);
        let status = response.status().as_u16();
        let answer = response.json().unwrap_or_else(|error| {
            panic!("ingest into {datasource}: the {status} answer is not JSON: {error}")
        });
        (status, answer)
    }

    /// [`ingest`](Self::ingest) of a body of `lines` events that must all be
    /// accepted.
    pub fn ingest_all(&self, datasource: &str, body: Vec<u8>, lines: usize) {
        let (status, report) = self.ingest(datasource, body, None);
        assert_eq!(
            (status, report["accepted"].as_u64()),
            (200, Some(lines as u64)),
            "ingest into {datasource}: {report}"
        );
    }

    /// Polls until `datasource`'s real-time index is empty — every event
    /// persisted into segments — for at most 30 s.
    pub fn wait_until_persisted(&self, datasource: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let described = self.get_json(&format!("/v1/datasources/{datasource}"));
            if described["realtime"]["events"] == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "not persisted: {described}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Log lines printed so far and not yet read.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for strata") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "strata did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl StrataServer {
    /// Sends SIGKILL — a crash: no shutdown code runs — and waits for the
    /// process to be gone.
    pub fn kill(mut self) {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        self.child.wait().expect("waiting for strata");
    }
}

impl Drop for StrataServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
