//! Transactional writes with librdkafka, to give source topics transaction markers and aborted records.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::ProducedRecord;

const TIMEOUT: Duration = Duration::from_secs(30);

/// One transaction: its records, and whether it is committed (`true`) or aborted.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub records: Vec<ProducedRecord>,
    pub commit: bool,
}

/// Writes each transaction in turn with one transactional producer (`transactional.id` unique per call),
/// committing or aborting it. Every transaction ends before the next begins, so the topic gets a marker after
/// each one.
pub async fn produce_transactions(bootstrap: &str, topic: &str, transactions: Vec<Transaction>) {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || produce_blocking(&bootstrap, &topic, &transactions))
        .await
        .expect("transactional producer panicked");
}

fn produce_blocking(bootstrap: &str, topic: &str, transactions: &[Transaction]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "transactional.id",
            crate::unique_name("kmirror-testkit-txn"),
        )
        .set("log_level", "3")
        .create()
        .unwrap_or_else(|e| panic!("transactional producer for {bootstrap}: {e}"));
    producer
        .init_transactions(TIMEOUT)
        .unwrap_or_else(|e| panic!("init_transactions on {bootstrap}: {e}"));
    for t in transactions {
        producer
            .begin_transaction()
            .unwrap_or_else(|e| panic!("begin_transaction: {e}"));
        for r in &t.records {
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
                .partition(r.partition)
                .headers(r.rdkafka_headers());
            if let Some(k) = &r.key {
                record = record.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                record = record.payload(v.as_slice());
            }
            if let Some(ts) = r.timestamp {
                record = record.timestamp(ts);
            }
            let mut pending = record;
            loop {
                match producer.send(pending) {
                    Ok(()) => break,
                    Err((e, back)) => {
                        // Queue full: let the producer drain, then retry the same record.
                        if e.rdkafka_error_code()
                            != Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        {
                            panic!("queueing a transactional record for {topic}: {e}");
                        }
                        pending = back;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
        producer
            .flush(TIMEOUT)
            .unwrap_or_else(|e| panic!("flushing a transaction to {topic}: {e}"));
        if t.commit {
            producer
                .commit_transaction(TIMEOUT)
                .unwrap_or_else(|e| panic!("commit_transaction on {topic}: {e}"));
        } else {
            producer
                .abort_transaction(TIMEOUT)
                .unwrap_or_else(|e| panic!("abort_transaction on {topic}: {e}"));
        }
    }
}
