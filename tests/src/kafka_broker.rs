//! A real Kafka-compatible broker for the Kafka tests: tansu, started on a
//! free port with in-memory storage, and a producer that talks to it.
//!
//! `./scripts/test.sh` installs tansu 0.6.0 (outside the clone) and points
//! `STRATA_TEST_TANSU` at it; a test run without it fails and says how to
//! get it, rather than skipping.
//!
//! tansu 0.6.0 serves a fetch from an offset inside a multi-record batch
//! wrongly, so [`Producer`] sends one record per batch; the consumer's
//! handling of real multi-record batches is tested against librdkafka's mock
//! cluster in `strata-ingest`.
//!
//! [`TcpProxy`] stands between the broker and its clients — tansu
//! advertises the proxy's port — so a test can cut the broker off and bring
//! it back without losing its in-memory topics.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use serde_json::{Value, json};

/// The tansu binary the test command installed.
pub fn tansu_bin() -> PathBuf {
    let bin = std::env::var_os("STRATA_TEST_TANSU").map(PathBuf::from);
    match bin {
        Some(bin) if bin.exists() => bin,
        _ => panic!(
            "the Kafka tests need tansu 0.6.0: run ./scripts/test.sh, which installs it, or \
             `cargo install tansu --version 0.6.0 --locked --features dynostore` and set \
             STRATA_TEST_TANSU to the binary"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A running tansu broker, reached through a [`TcpProxy`].
pub struct Broker {
    child: Child,
    broker_url: String,
    proxy: TcpProxy,
}

impl Broker {
    /// Starts tansu on a free port, advertised through a proxy.
    pub fn start() -> Broker {
        let port = free_port();
        let proxy = TcpProxy::start(("127.0.0.1", port));
        let listener = format!("tcp://127.0.0.1:{port}");
        let advertised = format!("tcp://127.0.0.1:{}", proxy.port());
        let mut child = Command::new(tansu_bin())
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tansu starts");
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[tansu] {line}");
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            broker_url: listener,
            proxy,
        }
    }

    /// `bootstrap.servers` for clients: the proxy.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.proxy.port())
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                topic,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &self.broker_url])
            .status()
            .expect("tansu topic create runs");
        assert!(
            status.success(),
            "tansu topic create {topic} failed: {status}"
        );
    }

    /// Cuts every client off the broker, or lets them in again.
    pub fn set_reachable(&self, reachable: bool) {
        self.proxy.set_open(reachable);
    }

    /// A producer of one record per batch (see the module docs).
    pub fn producer(&self) -> Producer {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("message.timeout.ms", "60000")
            .create()
            .expect("a producer");
        Producer { producer }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Kafka producer for tests.
pub struct Producer {
    producer: BaseProducer,
}

impl Producer {
    /// Sends each value to its partition and waits until every one is
    /// acknowledged.
    pub fn send_all<'a>(&self, topic: &str, messages: impl IntoIterator<Item = (i32, &'a [u8])>) {
        for (partition, value) in messages {
            send(&self.producer, topic, partition, value);
            self.producer.poll(Duration::ZERO);
        }
        self.producer
            .flush(Duration::from_secs(120))
            .expect("every message is acknowledged");
    }
}

/// Queues `value` for `partition` of `topic`, waiting while the producer's
/// queue is full.
pub fn send(producer: &BaseProducer, topic: &str, partition: i32, value: &[u8]) {
    let mut record = BaseRecord::<(), [u8]>::to(topic)
        .partition(partition)
        .payload(value);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(1));
            }
        }
    }
}

/// A Druid Kafka supervisor spec for `topic` on `bootstrap`, feeding the
/// datasource `data_schema` describes, from the earliest offsets.
pub fn supervisor_spec(data_schema: &str, topic: &str, bootstrap: &str) -> String {
    let data_schema: Value = serde_json::from_str(data_schema).expect("a dataSchema");
    json!({
        "type": "kafka",
        "spec": {
            "dataSchema": data_schema,
            "ioConfig": {
                "topic": topic,
                "inputFormat": {"type": "json"},
                "consumerProperties": {"bootstrap.servers": bootstrap},
                "useEarliestOffset": true,
                "taskDuration": "PT1H"
            },
            "tuningConfig": {"type": "kafka"}
        }
    })
    .to_string()
}

/// A TCP forwarder that can refuse and cut connections.
pub struct TcpProxy {
    port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl TcpProxy {
    /// Forwards a free port to `target`.
    pub fn start(target: (&'static str, u16)) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound port").port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let open = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let proxy = TcpProxy {
            port,
            open: open.clone(),
            connections: connections.clone(),
            stop: stop.clone(),
        };
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let _ = client.set_nonblocking(false);
                if !open.load(Ordering::Relaxed) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let Ok(mut kept) = connections.lock() {
                    kept.extend(client.try_clone().ok());
                    kept.extend(server.try_clone().ok());
                }
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closed, the proxy cuts its connections and refuses new ones.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
        if !open && let Ok(mut connections) = self.connections.lock() {
            for connection in connections.drain(..) {
                let _ = connection.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.set_open(false);
    }
}

/// Copies bytes from `from` to `to` on a thread of its own.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}
