//! Encoding variable-length blocks off the writer's thread.
//!
//! Compressing text is the most expensive part of writing a table (zstd over
//! every message), and it depends on nothing but the block's own values. So
//! the [`TableWriter`](super::TableWriter) hands each full text or complex
//! block to one background thread and goes on with the next rows, using the
//! second core while it hashes dictionary values on the first. Blocks come
//! back in the order they were sent; a bounded queue keeps at most a few
//! blocks in memory.

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{codec, text_codec};

/// How many blocks may wait for the encoder before the writer blocks.
const QUEUE_DEPTH: usize = 4;

/// One block of one column's values to encode.
pub struct EncodeJob {
    pub column: usize,
    pub rows: u32,
    pub data: Vec<u8>,
    /// `ends[i]` is where value `i` ends in `data`.
    pub ends: Vec<usize>,
    /// Text is split into token streams; other values are kept whole.
    pub text: bool,
    pub level: i32,
}

/// An encoded block, ready to be written.
pub struct EncodedBlock {
    pub column: usize,
    pub rows: u32,
    pub bytes: Vec<u8>,
}

/// The background thread and its two queues.
pub struct BackgroundEncoder {
    jobs: Option<mpsc::SyncSender<EncodeJob>>,
    done: mpsc::Receiver<EncodedBlock>,
    worker: Option<JoinHandle<()>>,
    in_flight: usize,
}

/// The encoder thread is gone (it can only panic, which is a bug).
#[derive(Debug)]
pub struct EncoderStopped;

impl BackgroundEncoder {
    pub fn start() -> Self {
        let (jobs, inbox) = mpsc::sync_channel::<EncodeJob>(QUEUE_DEPTH);
        let (outbox, done) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("strata-block-encoder".into())
            .spawn(move || {
                for job in inbox {
                    let values = (0..job.ends.len()).map(|j| {
                        let start = if j == 0 { 0 } else { job.ends[j - 1] };
                        &job.data[start..job.ends[j]]
                    });
                    let mut bytes = Vec::with_capacity(job.data.len() / 3);
                    if job.text {
                        text_codec::encode_framed(
                            values,
                            text_codec::FRAME_ROWS,
                            job.level,
                            &mut bytes,
                        );
                    } else {
                        codec::encode_var_binary(values, job.level, &mut bytes);
                    }
                    let block = EncodedBlock {
                        column: job.column,
                        rows: job.rows,
                        bytes,
                    };
                    if outbox.send(block).is_err() {
                        return;
                    }
                }
            })
            .ok();
        Self {
            jobs: Some(jobs),
            done,
            worker,
            in_flight: 0,
        }
    }

    /// Queues a block; waits while the queue is full.
    pub fn submit(&mut self, job: EncodeJob) -> Result<(), EncoderStopped> {
        match (&self.jobs, &self.worker) {
            (Some(jobs), Some(_)) => jobs.send(job).map_err(|_| EncoderStopped)?,
            _ => return Err(EncoderStopped),
        }
        self.in_flight += 1;
        Ok(())
    }

    /// The blocks finished so far, without waiting.
    pub fn finished(&mut self) -> Vec<EncodedBlock> {
        let blocks: Vec<_> = self.done.try_iter().collect();
        self.in_flight -= blocks.len();
        blocks
    }

    /// Waits for every queued block and stops the thread.
    pub fn finish(mut self) -> Result<Vec<EncodedBlock>, EncoderStopped> {
        self.jobs = None;
        let mut blocks = Vec::with_capacity(self.in_flight);
        while blocks.len() < self.in_flight {
            blocks.push(self.done.recv().map_err(|_| EncoderStopped)?);
        }
        if let Some(worker) = self.worker.take() {
            worker.join().map_err(|_| EncoderStopped)?;
        }
        Ok(blocks)
    }
}
