//! The batching queue between concurrent callers and the one inference worker.
//!
//! Callers tokenize on a blocking thread (never on the async runtime's), then
//! enqueue their statements. A single worker thread drains whatever is waiting,
//! packs it (sorted by length, under the token budget) into forward passes and
//! answers each caller. One worker, because candle already spreads a pass over
//! every core: two passes at once would only fight over them.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::analyzer::{Analyzer, Prepared};
use crate::error::{Error, Result};
use crate::stance::Classification;

#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// Statements waiting beyond this are refused with `Error::Overloaded`.
    pub max_queued: usize,
    /// Statements gathered into one drain of the queue.
    pub max_drain: usize,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            max_queued: 4096,
            max_drain: 256,
        }
    }
}

struct Job {
    statements: Vec<Prepared>,
    reply: oneshot::Sender<Result<Vec<Classification>>>,
    enqueued: Instant,
}

struct Shared {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    queued: AtomicUsize,
    closed: std::sync::atomic::AtomicBool,
}

/// What the queue reports, for metrics. Every method defaults to doing nothing.
pub trait QueueObserver: Send + Sync {
    /// A caller's statements were tokenized.
    fn tokenized(&self, _statements: usize, _took: Duration) {}
    /// A job waited this long between enqueueing and its forward pass.
    fn waited(&self, _took: Duration) {}
    /// One drain of the queue: statements labeled, statements still queued, time spent.
    fn batch(&self, _statements: usize, _queued: usize, _took: Duration) {}
    /// Jobs dropped unlabeled because their callers had gone.
    fn skipped(&self, _jobs: usize) {}
}

pub type BatchObserver = Arc<dyn QueueObserver>;

pub struct BatchQueue {
    analyzer: Arc<Analyzer>,
    shared: Arc<Shared>,
    opts: QueueOptions,
    observer: Option<BatchObserver>,
}

impl BatchQueue {
    pub fn start(
        analyzer: Arc<Analyzer>,
        opts: QueueOptions,
        observer: Option<BatchObserver>,
    ) -> Self {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            queued: AtomicUsize::new(0),
            closed: Default::default(),
        });
        let worker_shared = shared.clone();
        let worker_analyzer = analyzer.clone();
        let worker_observer = observer.clone();
        let spawned = std::thread::Builder::new()
            .name("detente-inference".into())
            .spawn(move || worker(worker_analyzer, worker_shared, opts, worker_observer));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the inference thread");
            shared.closed.store(true, Ordering::SeqCst);
        }
        Self {
            analyzer,
            shared,
            opts,
            observer,
        }
    }

    pub fn analyzer(&self) -> &Arc<Analyzer> {
        &self.analyzer
    }

    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::SeqCst)
    }

    /// Labels statements, sharing forward passes with concurrent callers.
    /// Dropping the returned future withdraws the request: the worker skips
    /// jobs whose caller has gone. Large requests are cut into jobs of at most
    /// `max_drain` statements, so a caller that leaves mid-way stops costing
    /// inference at the next cut, and other callers' jobs interleave.
    pub async fn classify(&self, statements: Vec<String>) -> Result<Vec<Classification>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let n = statements.len();
        // Refuse early, before spending time on tokenization.
        self.reserve(n)?;
        let guard = Reservation {
            shared: &self.shared,
            n,
        };
        let analyzer = self.analyzer.clone();
        let started = Instant::now();
        let prepared = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
            analyzer.prepare(&refs)
        })
        .await
        .map_err(|e| Error::InvalidInput(format!("tokenization failed: {e}")))??;
        if let Some(obs) = &self.observer {
            obs.tokenized(n, started.elapsed());
        }
        let chunk = self.opts.max_drain.max(1);
        let mut receivers = Vec::with_capacity(n.div_ceil(chunk));
        {
            let mut jobs = self
                .shared
                .jobs
                .lock()
                .map_err(|_| Error::Overloaded("inference queue is unavailable".into()))?;
            let enqueued = Instant::now();
            let mut prepared = prepared.into_iter().peekable();
            while prepared.peek().is_some() {
                let (tx, rx) = oneshot::channel();
                jobs.push_back(Job {
                    statements: prepared.by_ref().take(chunk).collect(),
                    reply: tx,
                    enqueued,
                });
                receivers.push(rx);
            }
        }
        self.shared.ready.notify_one();
        let mut out = Vec::with_capacity(n);
        for rx in receivers {
            let part = rx
                .await
                .map_err(|_| Error::Overloaded("the inference worker stopped".into()))??;
            out.extend(part);
        }
        drop(guard);
        Ok(out)
    }

    fn reserve(&self, n: usize) -> Result<()> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(Error::Overloaded(
                "the inference worker is not running".into(),
            ));
        }
        let limit = self.opts.max_queued;
        let before = self.shared.queued.fetch_add(n, Ordering::SeqCst);
        if before + n > limit && before > 0 {
            self.shared.queued.fetch_sub(n, Ordering::SeqCst);
            return Err(Error::Overloaded(format!(
                "server busy: {before} statements already queued, {n} more would pass the limit of {limit} \
                 (--max-queued-statements); retry later"
            )));
        }
        Ok(())
    }
}

/// Gives queue capacity back however the caller leaves (answered or cancelled).
struct Reservation<'a> {
    shared: &'a Shared,
    n: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.shared.queued.fetch_sub(self.n, Ordering::SeqCst);
    }
}

impl Drop for BatchQueue {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
    }
}

fn worker(
    analyzer: Arc<Analyzer>,
    shared: Arc<Shared>,
    opts: QueueOptions,
    observer: Option<BatchObserver>,
) {
    loop {
        let batch: Vec<Job> = {
            let Ok(mut jobs) = shared.jobs.lock() else {
                return;
            };
            while jobs.is_empty() {
                if shared.closed.load(Ordering::SeqCst) {
                    return;
                }
                jobs = match shared.ready.wait(jobs) {
                    Ok(j) => j,
                    Err(_) => return,
                };
            }
            let mut taken = Vec::new();
            let mut count = 0;
            while let Some(job) = jobs.front() {
                if !taken.is_empty() && count + job.statements.len() > opts.max_drain {
                    break;
                }
                count += job.statements.len();
                if let Some(job) = jobs.pop_front() {
                    taken.push(job);
                }
            }
            taken
        };
        // Callers that gave up cost nothing.
        let taken = batch.len();
        let live: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if let Some(obs) = &observer {
            if live.len() < taken {
                obs.skipped(taken - live.len());
            }
            for job in &live {
                obs.waited(job.enqueued.elapsed());
            }
        }
        if live.is_empty() {
            continue;
        }
        let all: Vec<&Prepared> = live.iter().flat_map(|j| &j.statements).collect();
        let started = Instant::now();
        let result = analyzer.classify_prepared(&all);
        if let Some(obs) = &observer {
            obs.batch(
                all.len(),
                shared.queued.load(Ordering::SeqCst),
                started.elapsed(),
            );
        }
        match result {
            Ok(labels) => {
                let mut labels = labels.into_iter();
                for job in live {
                    let part: Vec<Classification> =
                        labels.by_ref().take(job.statements.len()).collect();
                    let _ = job.reply.send(Ok(part));
                }
            }
            Err(_) => {
                // Retry each job alone so one failure cannot sink its neighbours.
                for job in live {
                    let _ = job.reply.send(analyzer.classify_prepared(&job.statements));
                }
            }
        }
    }
}
