//! The CLI's side of the API: asks the daemon that holds the database,
//! through its unix socket.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::socket_path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("asking the running daemon: {0}")]
    Request(String),
    /// The daemon answered, with an error of its own (the message is its).
    #[error("{0}")]
    Answer(String),
}

/// A connection to the running daemon's API.
pub struct Client {
    http: reqwest::Client,
}

/// The host part of request URLs (a unix socket has none).
const BASE: &str = "http://raqib";

/// The longest line [`Client::get_lines`] takes (an item's row is a few
/// hundred bytes).
const MAX_LINE: usize = 4 << 20;

impl Client {
    /// The API of the daemon using `storage`, when one answers on its
    /// socket; `None` when none runs (a socket file left by a daemon that
    /// died refuses the connection).
    pub async fn connect(storage: &Path) -> Option<Client> {
        let path = socket_path(storage);
        tokio::net::UnixStream::connect(&path).await.ok()?;
        let http = reqwest::Client::builder()
            .unix_socket(path)
            .timeout(Duration::from_secs(300))
            .build()
            .ok()?;
        Some(Client { http })
    }

    /// Sends `req`; the answer when the daemon says it went well, its
    /// message when not.
    async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let r = req.send().await.map_err(request_error)?;
        let status = r.status();
        if status.is_success() {
            return Ok(r);
        }
        let body = r.bytes().await.map_err(request_error)?;
        let text = String::from_utf8_lossy(&body).trim().to_string();
        Err(ClientError::Answer(if text.is_empty() {
            status.to_string()
        } else {
            text
        }))
    }

    /// [`Client::send`], and the answer's whole body.
    async fn body(req: reqwest::RequestBuilder) -> Result<Vec<u8>, ClientError> {
        let r = Self::send(req).await?;
        Ok(r.bytes().await.map_err(request_error)?.to_vec())
    }

    fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(body).map_err(|e| ClientError::Request(e.to_string()))
    }

    /// `GET path` (with its query), the answer as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Self::json(&Self::body(self.http.get(format!("{BASE}{path}"))).await?)
    }

    /// `GET path` (with its query) of an answer of one JSON object a line:
    /// `each` is given each as it arrives, so a long listing is never held
    /// whole. A listing the daemon broke off is an error, after the rows
    /// that came whole.
    pub async fn get_lines<T: DeserializeOwned, E: From<ClientError>>(
        &self,
        path: &str,
        mut each: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = Self::send(self.http.get(format!("{BASE}{path}"))).await?;
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(request_error)? {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                each(Self::json(&pending[start..start + end])?)?;
                start += end + 1;
            }
            pending.drain(..start);
            if pending.len() > MAX_LINE {
                return Err(ClientError::Request(format!(
                    "a line of the answer is longer than {MAX_LINE} bytes"
                ))
                .into());
            }
        }
        if !pending.is_empty() {
            return Err(
                ClientError::Request("the answer ends in the middle of a line".into()).into(),
            );
        }
        Ok(())
    }

    /// `POST path` with `body`; the answer as JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: String,
    ) -> Result<T, ClientError> {
        Self::json(&Self::body(self.http.post(format!("{BASE}{path}")).body(body)).await?)
    }

    /// `POST path` with `body`; the answer as text.
    pub async fn post_text(&self, path: &str, body: String) -> Result<String, ClientError> {
        let b = Self::body(self.http.post(format!("{BASE}{path}")).body(body)).await?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
}

fn request_error(e: reqwest::Error) -> ClientError {
    ClientError::Request(e.to_string())
}

/// `key=value` pairs for a query string, values percent-encoded; `None`
/// values left out.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}
