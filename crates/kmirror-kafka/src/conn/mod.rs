//! One pipelined connection per broker.
//!
//! A connection is opened (TCP, then TLS, then ApiVersions, then SASL) as one plain request/response
//! dialogue, then split: a writer task sends request frames in the order they were queued, a reader task
//! hands each response frame to whoever waits for its correlation id. Any number of requests may be in
//! flight; responses are decoded by the waiting task, not the reader, so decoding cost spreads over
//! tasks. The first I/O error, or a request timeout, closes the connection and fails every waiting
//! request; the broker pool (`cluster`) opens a new one on next use.

mod api;
mod oauth;
mod sasl;
mod scram;
mod stores;
mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

pub use api::{KafkaRequest, KafkaResponse};
pub(crate) use oauth::subject as token_subject;
pub(crate) use stores::client_identity;
pub(crate) use tls::build_tls_config;

use crate::config::{ClientConfig, split_host_port};
use crate::error::Error;

/// Largest response frame accepted; a bigger length prefix means we are not talking Kafka (for example a
/// plaintext client on a TLS port).
const MAX_FRAME: usize = 1 << 30;
const IO_BUFFER: usize = 64 * 1024;

/// What a connection needs besides the address; shared by every connection of one client.
#[derive(Debug, Clone)]
pub(crate) struct ConnectSettings {
    pub config: Arc<ClientConfig>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub client_id: StrBytes,
    /// OAUTHBEARER tokens, shared by every connection of the client.
    pub tokens: Option<Arc<oauth::TokenSource>>,
}

impl ConnectSettings {
    pub fn new(config: Arc<ClientConfig>) -> Result<Self, Error> {
        let tls = if config.security_protocol.uses_tls() {
            Some(build_tls_config(&config.tls)?)
        } else {
            None
        };
        let client_id = StrBytes::from_string(config.client_id.clone());
        let tokens = oauth::TokenSource::for_client(&config)?;
        Ok(Self {
            config,
            tls,
            client_id,
            tokens,
        })
    }

    fn connect_timeout(&self) -> Duration {
        self.config.request_timeout.min(Duration::from_secs(10))
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

type Waiter = oneshot::Sender<Result<Bytes, Error>>;

struct State {
    pending: HashMap<i32, Waiter>,
    next_correlation: i32,
    writer: Option<mpsc::UnboundedSender<Bytes>>,
    closed: bool,
}

struct Shared {
    broker: String,
    state: Mutex<State>,
    throttle_until: Mutex<Option<Instant>>,
    alive: AtomicBool,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails every waiting request and stops both tasks. Idempotent.
    fn close(&self, reason: &str) {
        let pending = {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            st.writer = None;
            std::mem::take(&mut st.pending)
        };
        self.alive.store(false, Ordering::Release);
        tracing::debug!(broker = %self.broker, reason, in_flight = pending.len(), "connection closed");
        for (_, w) in pending {
            let _ = w.send(Err(Error::Disconnected {
                broker: self.broker.clone(),
                in_flight: true,
            }));
        }
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }

    fn note_throttle(&self, ms: i32) {
        if ms > 0 {
            let until = Instant::now() + Duration::from_millis(ms as u64);
            let mut t = self
                .throttle_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if t.is_none_or(|cur| cur < until) {
                *t = Some(until);
            }
        }
    }
}

/// An open, authenticated connection to one broker. Dropping the last handle closes it.
pub struct Connection {
    shared: Arc<Shared>,
    versions: HashMap<i16, (i16, i16)>,
    client_id: StrBytes,
    request_timeout: Duration,
    /// When the SASL session nears its end (KIP-368), after which the pool opens a new connection.
    retire_at: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.shared.broker)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.close("dropped");
    }
}

impl Connection {
    /// Opens and authenticates a connection to `addr` (`host:port`).
    pub(crate) async fn connect(
        addr: &str,
        settings: &ConnectSettings,
    ) -> Result<Connection, Error> {
        let config = &settings.config;
        let (host, port) = split_host_port(addr).ok_or_else(|| Error::Connect {
            broker: addr.to_string(),
            source: Arc::new(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "expected host:port",
            )),
        })?;
        let connect_err = |e: std::io::Error| Error::Connect {
            broker: addr.to_string(),
            source: Arc::new(e),
        };
        let tcp =
            tokio::time::timeout(settings.connect_timeout(), TcpStream::connect((host, port)))
                .await
                .map_err(|_| {
                    connect_err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no TCP connection within {:?}", settings.connect_timeout()),
                    ))
                })?
                .map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        let mut stream: Box<dyn Stream> = match &settings.tls {
            Some(tls) => Box::new(
                tokio::time::timeout(
                    settings.connect_timeout(),
                    tls::handshake(tls, host, addr, tcp),
                )
                .await
                .map_err(|_| Error::Tls {
                    broker: addr.to_string(),
                    message:
                        "no TLS handshake within the connect timeout (is this a TLS listener?)"
                            .into(),
                })??,
            ),
            None => Box::new(tcp),
        };
        let mut hs = Handshake {
            stream: &mut stream,
            broker: addr,
            client_id: &settings.client_id,
            correlation: 0,
            timeout: settings.connect_timeout(),
        };
        let versions = hs
            .api_versions()
            .await
            .map_err(|e| tls::refused_after_handshake(e, config.tls.has_client_cert()))?;
        let mut session = None;
        if let Some(sasl) = &config.sasl
            && config.security_protocol.uses_sasl()
        {
            session =
                sasl::authenticate(&mut hs, &versions, sasl, settings.tokens.as_deref()).await?;
        }
        let next_correlation = hs.correlation;
        let mut conn = Self::start(
            addr,
            stream,
            versions,
            next_correlation,
            settings.client_id.clone(),
            config.request_timeout,
        );
        // KIP-368: the broker closes a session at the end of its lifetime (a token's expiry); the pool
        // replaces the connection before that instead of re-authenticating it mid-stream.
        conn.retire_at = session.map(|lifetime| Instant::now() + lifetime.mul_f64(0.85));
        Ok(conn)
    }

    fn start(
        addr: &str,
        stream: Box<dyn Stream>,
        versions: HashMap<i16, (i16, i16)>,
        next_correlation: i32,
        client_id: StrBytes,
        request_timeout: Duration,
    ) -> Connection {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            broker: addr.to_string(),
            state: Mutex::new(State {
                pending: HashMap::new(),
                next_correlation,
                writer: Some(tx),
                closed: false,
            }),
            throttle_until: Mutex::new(None),
            alive: AtomicBool::new(true),
            tasks: Mutex::new(Vec::new()),
        });
        let (read_half, write_half) = tokio::io::split(stream);
        let reader = tokio::spawn(read_loop(Arc::downgrade(&shared), read_half));
        let writer = tokio::spawn(write_loop(Arc::downgrade(&shared), write_half, rx));
        shared
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend([reader.abort_handle(), writer.abort_handle()]);
        Connection {
            shared,
            versions,
            client_id,
            request_timeout,
            retire_at: None,
        }
    }

    /// `host:port` of the broker.
    pub fn broker(&self) -> &str {
        &self.shared.broker
    }

    /// False once the connection failed or was closed; the pool then opens a new one.
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
            && self.retire_at.is_none_or(|t| Instant::now() < t)
    }

    /// The version of `R` to use with this broker: the highest both sides speak.
    pub fn version<R: KafkaRequest>(&self) -> Result<i16, Error> {
        negotiate(&self.versions, R::KEY, R::VERSIONS.min, R::VERSIONS.max).map_err(
            |(bmin, bmax)| Error::UnsupportedVersion {
                broker: self.broker().to_string(),
                api: R::NAME,
                broker_min: bmin,
                broker_max: bmax,
                ours_min: R::VERSIONS.min,
                ours_max: R::VERSIONS.max,
            },
        )
    }

    /// Waits until the broker's last throttle request (KIP-219) has passed.
    pub async fn wait_throttle(&self) {
        let until = *self
            .shared
            .throttle_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until
            && until > Instant::now()
        {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Sends `req` at the negotiated version after any throttle delay, and waits for its response.
    pub async fn send<R: KafkaRequest>(&self, req: &R) -> Result<R::Response, Error> {
        let version = self.version::<R>()?;
        self.wait_throttle().await;
        self.enqueue(req, version, self.request_timeout)?.await
    }

    /// Queues `req` for writing *now* (so requests queued one after another go out in that order) and
    /// returns a future for its response. `timeout` counts from this call; when it passes the
    /// connection is closed, because the broker might still answer and a late answer can no longer be
    /// told apart. Does not wait for throttling: call [`Connection::wait_throttle`] first.
    pub fn enqueue<R: KafkaRequest>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<impl Future<Output = Result<R::Response, Error>> + Send + 'static, Error> {
        let mut frame = encode_request(req, version, 0, &self.client_id, self.broker())?;
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            let writer = match (&st.writer, st.closed) {
                (Some(w), false) => w.clone(),
                _ => {
                    return Err(Error::Disconnected {
                        broker: self.broker().to_string(),
                        in_flight: false,
                    });
                }
            };
            let corr = st.next_correlation;
            st.next_correlation = st.next_correlation.wrapping_add(1);
            frame[8..12].copy_from_slice(&corr.to_be_bytes());
            st.pending.insert(corr, tx);
            if writer.send(frame.freeze()).is_err() {
                st.pending.remove(&corr);
                return Err(Error::Disconnected {
                    broker: self.broker().to_string(),
                    in_flight: false,
                });
            }
        }
        let shared = self.shared.clone();
        Ok(async move {
            let frame = match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(result)) => result?,
                Ok(Err(_)) => {
                    return Err(Error::Disconnected {
                        broker: shared.broker.clone(),
                        in_flight: true,
                    });
                }
                Err(_) => {
                    shared.close("request timed out");
                    return Err(Error::Timeout {
                        broker: shared.broker.clone(),
                        api: R::NAME,
                        after: timeout,
                    });
                }
            };
            let resp = decode_response::<R>(frame, version, &shared.broker)?;
            shared.note_throttle(resp.throttle_time_ms());
            Ok(resp)
        })
    }
}

/// Highest version in both ranges, or the broker's range when they do not meet.
fn negotiate(
    versions: &HashMap<i16, (i16, i16)>,
    key: i16,
    ours_min: i16,
    ours_max: i16,
) -> Result<i16, (i16, i16)> {
    match versions.get(&key) {
        Some(&(bmin, bmax)) => {
            let v = bmax.min(ours_max);
            if v >= bmin.max(ours_min) {
                Ok(v)
            } else {
                Err((bmin, bmax))
            }
        }
        None => Err((-1, -1)),
    }
}

fn encode_request<R: KafkaRequest>(
    req: &R,
    version: i16,
    correlation: i32,
    client_id: &StrBytes,
    broker: &str,
) -> Result<BytesMut, Error> {
    let proto = |e: String| Error::Protocol {
        broker: broker.to_string(),
        api: R::NAME,
        message: format!("encoding version {version}: {e}"),
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(client_id.clone()));
    let hv = R::header_version(version);
    let size = header.compute_size(hv).map_err(|e| proto(e.to_string()))?
        + req
            .compute_size(version)
            .map_err(|e| proto(e.to_string()))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, hv)
        .map_err(|e| proto(e.to_string()))?;
    req.encode(&mut buf, version)
        .map_err(|e| proto(e.to_string()))?;
    Ok(buf)
}

fn decode_response<R: KafkaRequest>(
    mut frame: Bytes,
    version: i16,
    broker: &str,
) -> Result<R::Response, Error> {
    let proto = |e: String| Error::Protocol {
        broker: broker.to_string(),
        api: R::NAME,
        message: format!("decoding version {version}: {e}"),
    };
    ResponseHeader::decode(&mut frame, R::Response::header_version(version))
        .map_err(|e| proto(e.to_string()))?;
    let resp = R::Response::decode(&mut frame, version).map_err(|e| proto(e.to_string()))?;
    Ok(resp)
}

async fn read_frame<S: AsyncRead + Unpin>(r: &mut S, broker: &str) -> Result<Bytes, Error> {
    let len = r.read_i32().await.map_err(|e| Error::io(broker, e))?;
    if len < 4 || len as usize > MAX_FRAME {
        return Err(Error::Protocol {
            broker: broker.to_string(),
            api: "response",
            message: format!(
                "frame length {len} is impossible; is the listener's security.protocol different from ours?"
            ),
        });
    }
    let len = len as usize;
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let want = len - buf.len();
        let n = r
            .read_buf(&mut (&mut buf).limit(want))
            .await
            .map_err(|e| Error::io(broker, e))?;
        if n == 0 {
            return Err(Error::Disconnected {
                broker: broker.to_string(),
                in_flight: true,
            });
        }
    }
    Ok(buf.freeze())
}

async fn read_loop<R: AsyncRead + Unpin>(shared: std::sync::Weak<Shared>, read: R) {
    let Some(broker) = shared.upgrade().map(|s| s.broker.clone()) else {
        return;
    };
    let mut reader = BufReader::with_capacity(IO_BUFFER, read);
    loop {
        let result = read_frame(&mut reader, &broker).await;
        let Some(sh) = shared.upgrade() else { return };
        match result {
            Ok(frame) => {
                if frame.len() < 4 {
                    sh.close("response shorter than its header");
                    return;
                }
                let corr = (&frame[..4]).get_i32();
                let waiter = sh.lock().pending.remove(&corr);
                match waiter {
                    Some(w) => {
                        let _ = w.send(Ok(frame));
                    }
                    None => {
                        tracing::debug!(broker, corr, "response for a request nobody waits for")
                    }
                }
            }
            Err(e) => {
                sh.close(&e.to_string());
                return;
            }
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: std::sync::Weak<Shared>,
    write: W,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) {
    let mut w = BufWriter::with_capacity(IO_BUFFER, write);
    while let Some(frame) = rx.recv().await {
        let mut result = w.write_all(&frame).await;
        while result.is_ok() {
            match rx.try_recv() {
                Ok(more) => result = w.write_all(&more).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = w.flush().await;
        }
        if let Err(e) = result {
            if let Some(sh) = shared.upgrade() {
                sh.close(&format!("write failed: {e}"));
            }
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// The request/response dialogue on a fresh stream, before it is split for pipelining.
pub(crate) struct Handshake<'a> {
    stream: &'a mut Box<dyn Stream>,
    broker: &'a str,
    client_id: &'a StrBytes,
    correlation: i32,
    timeout: Duration,
}

impl Handshake<'_> {
    pub(crate) fn broker(&self) -> &str {
        self.broker
    }

    /// One request and its response, no pipelining.
    pub(crate) async fn exchange<R: KafkaRequest>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        let corr = self.correlation;
        self.correlation += 1;
        let frame = encode_request(req, version, corr, self.client_id, self.broker)?;
        let io = async {
            self.stream
                .write_all(&frame)
                .await
                .map_err(|e| Error::io(self.broker, e))?;
            self.stream
                .flush()
                .await
                .map_err(|e| Error::io(self.broker, e))?;
            read_frame(&mut self.stream, self.broker).await
        };
        let frame =
            tokio::time::timeout(self.timeout, io)
                .await
                .map_err(|_| Error::Timeout {
                    broker: self.broker.to_string(),
                    api: R::NAME,
                    after: self.timeout,
                })??;
        decode_response::<R>(frame, version, self.broker)
    }

    /// ApiVersions (v3, falling back to v0 for old brokers): which versions of each API the broker speaks.
    async fn api_versions(&mut self) -> Result<HashMap<i16, (i16, i16)>, Error> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kmirror"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let resp: ApiVersionsResponse = match self.exchange(&req, 3).await {
            Ok(r) if r.error_code == 0 => r,
            Ok(_) | Err(Error::Protocol { .. }) => {
                self.exchange(&ApiVersionsRequest::default(), 0).await?
            }
            Err(e) => return Err(e),
        };
        if let Some(e) = Error::from_code(
            resp.error_code,
            || format!("ApiVersions with broker {}", self.broker),
            None,
        ) {
            return Err(e);
        }
        Ok(resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_highest_common_version() {
        let mut v = HashMap::new();
        v.insert(1, (4, 17));
        v.insert(0, (3, 12));
        v.insert(3, (0, 2));
        assert_eq!(negotiate(&v, 1, 4, 18), Ok(17));
        assert_eq!(negotiate(&v, 0, 3, 13), Ok(12));
        assert_eq!(negotiate(&v, 3, 5, 13), Err((0, 2)));
        assert_eq!(negotiate(&v, 9, 0, 1), Err((-1, -1)));
    }

    #[test]
    fn request_frames_carry_size_and_correlation_slot() {
        let req = ApiVersionsRequest::default();
        let frame = encode_request(&req, 0, 0x01020304, &StrBytes::from_static_str("c"), "b:1")
            .expect("encode");
        let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        assert_eq!(size as usize, frame.len() - 4);
        assert_eq!(&frame[4..6], &18i16.to_be_bytes());
        assert_eq!(&frame[8..12], &0x01020304i32.to_be_bytes());
    }
}
