//! SMTP without TLS or with STARTTLS, over a connection raqib opens itself
//! so that it can set `TCP_NODELAY`: lettre 0.11 writes a message's final
//! `CRLF.CRLF` as a separate small write, which Nagle's algorithm holds
//! until the server's delayed ACK, 40 ms on Linux, at every message. The
//! protocol itself (EHLO, STARTTLS, AUTH, the transaction) is lettre's.
//! One connection is kept open between messages and checked with NOOP
//! before reuse. Implicit TLS (port 465) goes through lettre's transport.

use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use tokio::sync::Mutex;

use super::SendError;

pub(super) struct Direct {
    host: String,
    port: u16,
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    conn: Mutex<Option<AsyncSmtpConnection>>,
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        permanent: e.is_permanent(),
        message: crate::diag::error_chain(&e),
    }
}

impl Direct {
    pub(super) fn new(
        host: String,
        port: u16,
        starttls: Option<TlsParameters>,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Direct {
        Direct {
            host,
            port,
            starttls,
            credentials,
            timeout,
            hello: ClientId::default(),
            conn: Mutex::new(None),
        }
    }

    /// Sends one message; the connection is opened (or reopened) as needed.
    pub(super) async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let mut slot = self.conn.lock().await;
        let reusable = match slot.as_mut() {
            Some(c) => matches!(
                self.timed(async { Ok(c.test_connected().await) }).await,
                Ok(true)
            ),
            None => false,
        };
        if !reusable {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        let Some(conn) = slot.as_mut() else {
            return Err(transient("no SMTP connection".into()));
        };
        let bytes = msg.formatted();
        let result = self
            .timed(async {
                conn.send(msg.envelope(), &bytes)
                    .await
                    .map(|_| ())
                    .map_err(smtp_error)
            })
            .await;
        if result.is_err() {
            // The session's state is unknown after a failure: start afresh.
            if let Some(mut c) = slot.take() {
                c.abort().await;
            }
        }
        result
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let stream = self
            .timed(async {
                tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| {
                        transient(format!("connecting to {}:{}: {e}", self.host, self.port))
                    })
            })
            .await?;
        stream
            .set_nodelay(true)
            .map_err(|e| transient(format!("TCP_NODELAY: {e}")))?;
        let mut conn = self
            .timed(async {
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(smtp_error)
            })
            .await?;
        if let Some(tls) = &self.starttls {
            self.timed(async {
                conn.starttls(tls.clone(), &self.hello)
                    .await
                    .map_err(smtp_error)
            })
            .await?;
        }
        if let Some(creds) = &self.credentials {
            self.timed(async {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], creds)
                    .await
                    .map(|_| ())
                    .map_err(smtp_error)
            })
            .await?;
        }
        Ok(conn)
    }

    /// `f` within the configured timeout.
    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, SendError>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(transient(format!(
                "no answer from {}:{} within {:?}",
                self.host, self.port, self.timeout
            ))),
        }
    }
}
