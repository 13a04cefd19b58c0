//! Tests of the WAL as its users see it: files on disk, concurrent appends,
//! crashes. Tests of the byte layout and of the torn-write rules on single
//! files are next to that code.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// Spawning a child process copies every open file descriptor into it until
/// it execs — the lock file of a WAL open in another test too — so a test
/// that drops and reopens a WAL while the crash test spawns its writer could
/// find the WAL still locked. Tests that open WALs hold this for reading; the
/// crash test holds it for writing while it spawns.
static SPAWNING: RwLock<()> = RwLock::new(());

fn no_spawns() -> RwLockReadGuard<'static, ()> {
    SPAWNING.read().unwrap_or_else(PoisonError::into_inner)
}

fn files_of(segment_bytes: u64) -> WalOptions {
    WalOptions { segment_bytes }
}

fn open(dir: &Path, options: WalOptions) -> (Wal, Vec<ReplayedRecord>) {
    let (wal, replay) = Wal::open(dir, options).unwrap();
    let records = replay.collect::<Result<Vec<_>, _>>().unwrap();
    (wal, records)
}

fn append(wal: &Wal, payloads: &[&[u8]]) -> SequenceRange {
    let mut batch = Batch::new();
    for payload in payloads {
        batch.push(payload).unwrap();
    }
    wal.append(batch).unwrap()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    files.sort();
    files
}

fn seqs(records: &[ReplayedRecord]) -> Vec<u64> {
    records.iter().map(|record| record.seq.0).collect()
}

fn record(seq: u64, payload: &[u8]) -> ReplayedRecord {
    ReplayedRecord {
        seq: SequenceNumber(seq),
        kafka: None,
        payload: payload.to_vec(),
    }
}

/// The size of a record without Kafka metadata in the file.
fn frame_len(payload: &[u8]) -> usize {
    format::MIN_FRAME_LEN + payload.len()
}

#[test]
fn records_replay_in_order_across_file_rolls() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, replayed) = open(dir.path(), files_of(512));
    assert!(replayed.is_empty());

    let mut expected = Vec::new();
    let mut next = 1;
    for i in 0..60u64 {
        let mut batch = Batch::new();
        let mut records = Vec::new();
        for k in 0..(1 + i % 4) {
            // Sizes from empty to larger than a whole file.
            let len = if i == 30 {
                2_000
            } else {
                ((i * 37 + k * 11) % 150) as usize
            };
            let payload = vec![b'a' + (i % 26) as u8; len];
            let kafka = (i % 3 == 0).then(|| KafkaOffset {
                topic: format!("topic-{}", k % 2),
                partition: (i % 5) as u32,
                offset: 1_000 + i * 10 + k,
            });
            match &kafka {
                Some(source) => batch.push_from_kafka(source, &payload).unwrap(),
                None => batch.push(&payload).unwrap(),
            }
            records.push((kafka, payload));
        }
        let range = wal.append(batch).unwrap();
        assert_eq!(range.start(), SequenceNumber(next));
        assert_eq!(range.len(), records.len() as u64);
        for (seq, (kafka, payload)) in range.iter().zip(records) {
            expected.push(ReplayedRecord {
                seq,
                kafka,
                payload,
            });
        }
        next = range.end().0;
    }
    let stats = wal.stats();
    assert_eq!(stats.records, expected.len() as u64);
    assert_eq!(stats.commits, 60);
    drop(wal);

    let files = segment_files(dir.path());
    assert!(files.len() > 10, "{} files", files.len());
    let first_seqs: Vec<u64> = files
        .iter()
        .map(|path| format::parse_segment_file_name(path.file_name().unwrap().to_str().unwrap()))
        .map(|base| base.unwrap().0)
        .collect();
    assert_eq!(first_seqs[0], 1);
    for base in &first_seqs {
        assert!(
            expected.iter().any(|record| record.seq.0 == *base),
            "{base}"
        );
    }

    let (wal, replay) = Wal::open(dir.path(), files_of(512)).unwrap();
    assert_eq!(replay.remaining(), expected.len() as u64);
    let mut last_offsets: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for source in expected.iter().filter_map(|record| record.kafka.clone()) {
        let last = last_offsets
            .entry((source.topic, source.partition))
            .or_default();
        *last = (*last).max(source.offset);
    }
    let last_offsets: Vec<KafkaOffset> = last_offsets
        .into_iter()
        .map(|((topic, partition), offset)| KafkaOffset {
            topic,
            partition,
            offset,
        })
        .collect();
    assert_eq!(replay.last_kafka_offsets(), last_offsets.as_slice());
    let replayed = replay.collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(replayed, expected);

    let range = append(&wal, &[b"after reopen"]);
    assert_eq!(range.start(), SequenceNumber(next));
}

#[test]
fn concurrent_appends_share_fsyncs_and_replay_exactly_once() {
    let _no_spawns = no_spawns();
    const THREADS: usize = 8;
    const APPENDS: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(16 << 10));
    let wal = Arc::new(wal);
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let wal = Arc::clone(&wal);
            thread::spawn(move || {
                (0..APPENDS)
                    .map(|i| {
                        let payload = format!("thread {thread} append {i} {}", "x".repeat(i % 50));
                        let range = append(&wal, &[payload.as_bytes()]);
                        (range.start().0, payload.into_bytes())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    acknowledged.sort();
    let total = (THREADS * APPENDS) as u64;
    assert_eq!(
        acknowledged.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );

    let stats = wal.stats();
    assert_eq!(stats.records, total);
    assert!(
        stats.fsyncs < stats.records,
        "no group commit happened: {stats:?}"
    );
    assert!(stats.commits < stats.records, "{stats:?}");
    drop(wal);

    let (_, replayed) = open(dir.path(), files_of(16 << 10));
    let expected: Vec<ReplayedRecord> = acknowledged
        .iter()
        .map(|(seq, payload)| record(*seq, payload))
        .collect();
    assert_eq!(replayed, expected);
}

/// Writes commits `[a]`, `[bb]`, `[ccc, dddd, eeeee]` into a fresh WAL in
/// `dir` and returns its one file and the payloads.
fn write_three_commits(dir: &Path) -> (PathBuf, Vec<Vec<u8>>) {
    let (wal, _) = open(dir, WalOptions::default());
    let payloads: Vec<Vec<u8>> = (1..=5).map(|n| vec![b'a' + n as u8 - 1; n]).collect();
    append(&wal, &[&payloads[0]]);
    append(&wal, &[&payloads[1]]);
    append(&wal, &[&payloads[2], &payloads[3], &payloads[4]]);
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    (files[0].clone(), payloads)
}

#[test]
fn a_torn_write_at_any_byte_loses_only_the_records_it_cuts() {
    let _no_spawns = no_spawns();
    let reference = tempfile::tempdir().unwrap();
    let (file, payloads) = write_three_commits(reference.path());
    let bytes = fs::read(&file).unwrap();
    let name = file.file_name().unwrap();
    let ends: Vec<usize> = payloads
        .iter()
        .scan(HEADER_LEN, |end, payload| {
            *end += frame_len(payload);
            Some(*end)
        })
        .collect();
    assert_eq!(*ends.last().unwrap(), bytes.len());

    // Every length from just after the first two commits to one byte short
    // of the end, each with the rest missing or left as zeros (a file
    // system may extend a file before the data reaches the disk).
    for cut in ends[1]..bytes.len() {
        for zero_filled in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut torn = bytes[..cut].to_vec();
            if zero_filled {
                torn.resize(bytes.len(), 0);
            }
            fs::write(dir.path().join(name), &torn).unwrap();

            let (wal, replayed) = open(dir.path(), WalOptions::default());
            let intact = ends.iter().filter(|&&end| end <= cut).count();
            let expected: Vec<ReplayedRecord> = (0..intact)
                .map(|i| record(i as u64 + 1, &payloads[i]))
                .collect();
            assert_eq!(
                replayed, expected,
                "cut at {cut}, zero-filled: {zero_filled}"
            );

            let range = append(&wal, &[b"after the crash"]);
            assert_eq!(
                range.start(),
                SequenceNumber(intact as u64 + 1),
                "cut at {cut}"
            );
            drop(wal);
            let (_, replayed) = open(dir.path(), WalOptions::default());
            let mut expected = expected;
            expected.push(record(intact as u64 + 1, b"after the crash"));
            assert_eq!(replayed, expected, "cut at {cut}, after reopening");
        }
    }
}

#[test]
fn damage_to_the_last_commit_cannot_be_told_from_a_torn_write() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (file, payloads) = write_three_commits(dir.path());
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&file, &bytes).unwrap();
    let (_, replayed) = open(dir.path(), WalOptions::default());
    assert_eq!(seqs(&replayed), [1, 2, 3, 4]);
    assert_eq!(replayed[3].payload, payloads[3]);
}

#[test]
fn damage_before_a_later_commit_in_the_last_file_is_an_error() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (file, payloads) = write_three_commits(dir.path());
    let mut bytes = fs::read(&file).unwrap();
    // The payload of the second commit's record.
    let at = HEADER_LEN + frame_len(&payloads[0]) + format::MIN_FRAME_LEN;
    bytes[at] ^= 0x80;
    fs::write(&file, &bytes).unwrap();
    let error = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    let WalError::Corrupt {
        path,
        offset,
        problem,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(path, &file);
    assert_eq!(*offset, (HEADER_LEN + frame_len(&payloads[0])) as u64);
    assert!(
        matches!(problem, Corruption::DamagedBeforeLaterCommit { .. }),
        "{problem}"
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        bytes,
        "a damaged file is left as it is"
    );
}

#[test]
fn a_bit_flip_in_a_file_that_is_not_the_last_names_the_file() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(512));
    for i in 0..40 {
        append(&wal, &[format!("record number {i:04}").as_bytes()]);
    }
    drop(wal);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");

    for damaged in &files[..files.len() - 1] {
        let original = fs::read(damaged).unwrap();
        let mut bytes = original.clone();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x04;
        fs::write(damaged, &bytes).unwrap();

        let error = Wal::open(dir.path(), files_of(512)).unwrap_err();
        let WalError::Corrupt { path, offset, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(path, damaged);
        let record_len = frame_len(b"record number 0000") as u64;
        assert!(
            *offset <= at as u64 && at as u64 - *offset < record_len,
            "offset {offset}, flipped byte {at}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&damaged.display().to_string()) && message.contains("Restore"),
            "{message}"
        );
        fs::write(damaged, &original).unwrap();
    }
    let (_, replayed) = open(dir.path(), files_of(512));
    assert_eq!(replayed.len(), 40);
}

#[test]
fn a_missing_file_is_an_error_not_a_silent_gap() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(256));
    for i in 0..20 {
        append(&wal, &[format!("record {i}").as_bytes()]);
    }
    drop(wal);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    fs::remove_file(&files[1]).unwrap();
    let error = Wal::open(dir.path(), files_of(256)).unwrap_err();
    assert!(
        matches!(
            &error,
            WalError::Corrupt { path, problem: Corruption::SequenceGap { .. }, .. }
                if path == &files[2]
        ),
        "{error}"
    );
}

#[test]
fn truncation_deletes_whole_files_and_a_restart_replays_the_rest() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(512));
    for i in 1..=50 {
        append(
            &wal,
            &[format!("record {i:03} {}", "-".repeat(50)).as_bytes()],
        );
    }
    let files_before = segment_files(dir.path());

    let error = wal.truncate_through(SequenceNumber(51)).unwrap_err();
    assert!(
        matches!(
            error,
            WalError::TruncateBeyondDurable {
                requested: SequenceNumber(51),
                durable: SequenceNumber(50)
            }
        ),
        "{error}"
    );

    let deleted = wal.truncate_through(SequenceNumber(23)).unwrap();
    let files_after = segment_files(dir.path());
    assert!(deleted > 0);
    assert_eq!(files_after.len(), files_before.len() - deleted);
    assert_eq!(files_after[..], files_before[deleted..]);
    let first_left =
        format::parse_segment_file_name(files_after[0].file_name().unwrap().to_str().unwrap())
            .unwrap();
    assert!(first_left <= SequenceNumber(24), "{first_left}");
    assert_eq!(wal.truncate_through(SequenceNumber(10)).unwrap(), 0);
    drop(wal);

    let (wal, replayed) = open(dir.path(), files_of(512));
    assert_eq!(seqs(&replayed), (24..=50).collect::<Vec<_>>());
    assert_eq!(
        replayed[0].payload,
        format!("record 024 {}", "-".repeat(50)).as_bytes()
    );
    assert_eq!(append(&wal, &[b"51"]).start(), SequenceNumber(51));

    // Truncating everything keeps the file being appended to.
    wal.truncate_through(SequenceNumber(51)).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
    drop(wal);
    let (wal, replayed) = open(dir.path(), files_of(512));
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_eq!(append(&wal, &[b"52"]).start(), SequenceNumber(52));
}

#[test]
fn a_truncation_cut_short_by_a_crash_is_finished_on_open() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(256));
    for i in 1..=20 {
        append(&wal, &[format!("record {i:03}").as_bytes()]);
    }
    drop(wal);
    let files_before = segment_files(dir.path());
    // The checkpoint was written, then the crash came before any deletion.
    write_checkpoint(dir.path(), SequenceNumber(15)).unwrap();

    let (_, replayed) = open(dir.path(), files_of(256));
    assert_eq!(seqs(&replayed), (16..=20).collect::<Vec<_>>());
    let files_after = segment_files(dir.path());
    assert!(files_after.len() < files_before.len(), "{files_after:?}");
}

#[test]
fn a_crash_while_creating_a_file_leaves_a_usable_log() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), files_of(256));
    for i in 1..=10 {
        append(&wal, &[format!("record {i:03}").as_bytes()]);
    }
    drop(wal);
    for header_len in [0, 7, HEADER_LEN] {
        let name = format::segment_file_name(SequenceNumber(11));
        let header = format::encode_segment_header(SequenceNumber(11));
        let mut torn = header[..header_len].to_vec();
        if header_len == HEADER_LEN {
            torn[3] ^= 0xff;
        }
        fs::write(dir.path().join(&name), &torn).unwrap();

        let (wal, replayed) = open(dir.path(), files_of(256));
        assert_eq!(seqs(&replayed), (1..=10).collect::<Vec<_>>());
        let range = append(&wal, &[b"into the repaired file"]);
        assert_eq!(range.start(), SequenceNumber(11));
        drop(wal);
        let (_, replayed) = open(dir.path(), files_of(256));
        assert_eq!(
            replayed.last(),
            Some(&record(11, b"into the repaired file"))
        );
        // Start over from ten records for the next header length.
        fs::remove_file(dir.path().join(&name)).unwrap();
    }
}

#[test]
fn a_wal_directory_is_opened_once_at_a_time() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), WalOptions::default());
    let error = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    assert!(matches!(error, WalError::InUse { .. }), "{error}");
    drop(wal);
    Wal::open(dir.path(), WalOptions::default()).unwrap();
}

#[test]
fn an_empty_batch_writes_nothing() {
    let _no_spawns = no_spawns();
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), WalOptions::default());
    append(&wal, &[b"one"]);
    let range = wal.append(Batch::new()).unwrap();
    assert!(range.is_empty());
    assert_eq!(range.start(), SequenceNumber(2));
    assert_eq!(wal.stats().commits, 1);
}

/// Set to a directory, this makes [`crash_writer_child`] a writer that
/// appends until it is killed.
const CRASH_DIR_ENV: &str = "STRATA_WAL_CRASH_TEST_DIR";
const CRASH_WRITER_TEST: &str = "wal::tests::crash_writer_child";

/// Not a test by itself: run by [`acknowledged_records_survive_sigkill`] in
/// a child process, it appends from several threads and prints
/// `ack <seq> <payload>` for every acknowledged record, and
/// `truncating <seq>` before each truncation, until it is killed.
#[test]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let (wal, _) = Wal::open(&dir, files_of(16 << 10)).unwrap();
    let wal = Arc::new(wal);
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let writers: Vec<_> = (0..4)
        .map(|thread| {
            let wal = Arc::clone(&wal);
            let stdout = Arc::clone(&stdout);
            thread::spawn(move || {
                for i in 0u64.. {
                    let payloads: Vec<String> = (0..1 + i % 3)
                        .map(|k| {
                            format!("w{thread}-{i}-{k}-{}", "x".repeat((i * 7 % 300) as usize))
                        })
                        .collect();
                    let mut batch = Batch::new();
                    for payload in &payloads {
                        batch.push(payload.as_bytes()).unwrap();
                    }
                    let range = match wal.append(batch) {
                        Ok(range) => range,
                        Err(error) => {
                            writeln!(stdout.lock().unwrap(), "error {error}").unwrap();
                            return;
                        }
                    };
                    let mut out = stdout.lock().unwrap();
                    for (seq, payload) in range.iter().zip(&payloads) {
                        writeln!(out, "ack {seq} {payload}").unwrap();
                    }
                    out.flush().unwrap();
                    let through = range.start().0.saturating_sub(1_000);
                    if thread == 0 && i % 100 == 99 && through > 0 {
                        writeln!(out, "truncating {through}").unwrap();
                        out.flush().unwrap();
                        drop(out);
                        wal.truncate_through(SequenceNumber(through)).unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
}

/// This test binary. On Linux `/proc/self/exe` still runs it when a rebuild
/// has replaced the file since the tests started.
fn test_binary() -> PathBuf {
    let this_process = Path::new("/proc/self/exe");
    if this_process.exists() {
        this_process.to_path_buf()
    } else {
        std::env::current_exe().unwrap()
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let random = RandomState::new();
    let mut acknowledged: BTreeMap<u64, String> = BTreeMap::new();
    let mut truncated_through = 0;
    for round in 0..6u64 {
        let spawning = SPAWNING.write().unwrap_or_else(PoisonError::into_inner);
        let mut child = Command::new(test_binary())
            .args([
                CRASH_WRITER_TEST,
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        drop(spawning);
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });

        // Let the writer get going, then kill it at a random moment.
        let mut output = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !output.iter().any(|line: &String| line.starts_with("ack ")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => output.push(line),
                Err(error) => panic!("the writer acknowledged nothing ({error}): {output:?}"),
            }
        }
        thread::sleep(Duration::from_millis(10 + random.hash_one(round) % 400));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        output.extend(received.try_iter());

        for line in &output {
            if let Some(ack) = line.strip_prefix("ack ") {
                let (seq, payload) = ack.split_once(' ').unwrap();
                let seq: u64 = seq.parse().unwrap();
                let earlier = acknowledged.insert(seq, payload.to_owned());
                assert_eq!(earlier, None, "sequence {seq} acknowledged twice");
            } else if let Some(through) = line.strip_prefix("truncating ") {
                truncated_through = truncated_through.max(through.parse().unwrap());
            } else {
                assert!(!line.starts_with("error"), "{line}");
            }
        }

        let (wal, replayed) = open(dir.path(), WalOptions::default());
        assert!(
            seqs(&replayed)
                .windows(2)
                .all(|pair| pair[1] == pair[0] + 1),
            "round {round}: replay is not one run of consecutive records"
        );
        let replayed: BTreeMap<u64, &[u8]> = replayed
            .iter()
            .map(|record| (record.seq.0, record.payload.as_slice()))
            .collect();
        for (seq, payload) in acknowledged.range(truncated_through + 1..) {
            assert_eq!(
                replayed.get(seq).copied(),
                Some(payload.as_bytes()),
                "round {round}: acknowledged record {seq} did not survive"
            );
        }
        drop(wal);
    }
    assert!(acknowledged.len() > 100, "{} records", acknowledged.len());
}
