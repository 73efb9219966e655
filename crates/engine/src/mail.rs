//! Email through an SMTP server: the `[smtp]` section of `baton.toml` and a [`Mailer`] that
//! sends one message (plain text, optionally with an HTML alternative).
//!
//! ```toml
//! [smtp]
//! host = "127.0.0.1"
//! port = 25                     # 25 unless given
//! from = "Baton <baton@example.com>"
//! username = "baton"            # optional; with password, SMTP AUTH
//! password = "secret"
//! tls = "none"                  # "none" (default), "starttls" or "tls" (rustls)
//! timeout_seconds = 30
//! ```
//!
//! Text goes as it is written (7bit, or 8bit when it is not ASCII) whenever its lines fit
//! SMTP's 998 octets, never quoted-printable: a link must work when copied from the raw
//! message, as a debugging SMTP server prints it, without `=3D` or soft line breaks.
//!
//! This module only sends: retries, backoff and what a failure means for a workflow belong
//! to its callers, which tell a failure worth retrying by [`MailError::is_transient`].

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

/// `[smtp]`: the server mail goes through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The sender, `address` or `Name <address>`.
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// The longest one SMTP conversation may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, for a server on loopback or a private network.
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS (refused if the server does not offer it).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

fn default_port() -> u16 {
    25
}

fn default_timeout() -> u64 {
    30
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid {field} address {address:?}: {reason}")]
    InvalidAddress { field: &'static str, address: String, reason: String },
    #[error("cannot build the message: {0}")]
    Message(String),
    #[error("SMTP settings: {0}")]
    Settings(String),
    #[error("SMTP server {server}: {source}")]
    Smtp {
        server: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

impl MailError {
    /// Whether sending again later may succeed: the server could not be reached, timed out or
    /// answered with a 4xx. A bad address or a 5xx answer will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            MailError::Smtp { source, .. } => !source.is_permanent(),
            _ => false,
        }
    }
}

/// Sends mail through one SMTP server. Cheap to clone; connections are opened per message.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("server", &self.server).field("from", &self.from).finish()
    }
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Result<Self, MailError> {
        let from = parse_mailbox("from", &config.from)?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let parameters =
                    TlsParameters::new(config.host.clone()).map_err(|e| MailError::Settings(e.to_string()))?;
                if config.tls == SmtpTls::Starttls {
                    Tls::Required(parameters)
                } else {
                    Tls::Wrapper(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_seconds.max(1))));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err(MailError::Settings("username and password must be given together".into())),
        }
        Ok(Self { transport: builder.build(), from, server: format!("{}:{}", config.host, config.port) })
    }

    /// Sends one message to `to`: `text_body` as text/plain, and with `html_body` a
    /// multipart/alternative whose HTML part mail readers prefer.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text_body: &str,
        html_body: Option<&str>,
    ) -> Result<(), MailError> {
        let to = parse_mailbox("to", to)?;
        let message = self.message(&to, subject, text_body, html_body, true)?;
        let eight_bit = !(text_body.is_ascii() && html_body.is_none_or(str::is_ascii));
        match self.transport.send(message).await {
            // A server without 8BITMIME refuses raw UTF-8 before anything is sent: encode it.
            Err(e) if eight_bit && e.is_client() => {
                tracing::debug!(server = self.server, error = %e, "sending again with the text encoded");
                let message = self.message(&to, subject, text_body, html_body, false)?;
                self.transport.send(message).await
            }
            sent => sent,
        }
        .map(|_| ())
        .map_err(|source| MailError::Smtp { server: self.server.clone(), source })
    }

    /// The message; with `unencoded`, text parts that fit go as written ([`as_written`]).
    fn message(
        &self,
        to: &Mailbox,
        subject: &str,
        text_body: &str,
        html_body: Option<&str>,
        unencoded: bool,
    ) -> Result<Message, MailError> {
        let part = |content_type: ContentType, text: &str| {
            let builder = SinglePart::builder().header(content_type);
            match as_written(text).filter(|_| unencoded) {
                Some(body) => builder.body(body),
                None => builder.body(text.to_owned()),
            }
        };
        let builder = Message::builder().from(self.from.clone()).to(to.clone()).subject(subject);
        match html_body {
            None => builder.singlepart(part(ContentType::TEXT_PLAIN, text_body)),
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, text_body))
                    .singlepart(part(ContentType::TEXT_HTML, html)),
            ),
        }
        .map_err(|e| MailError::Message(e.to_string()))
    }
}

/// SMTP's longest line, without its CRLF (RFC 5321 4.5.3.1.6).
const MAX_LINE_OCTETS: usize = 998;

/// `text` as it is written, with CRLF line ends: 7bit when it is ASCII, 8bit when not, as
/// long as every line fits SMTP's limit and it holds no NUL or lone CR; `None` otherwise
/// (then lettre encodes it). Lettre alone would quote every line of 76 characters or more,
/// and links are longer than that.
fn as_written(text: &str) -> Option<Body> {
    let unix = text.replace("\r\n", "\n");
    let fits = unix.split('\n').all(|line| line.len() <= MAX_LINE_OCTETS) && !unix.contains(['\0', '\r']);
    if !fits {
        return None;
    }
    let encoding = if unix.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    Some(Body::dangerous_pre_encoded(unix.replace('\n', "\r\n").into_bytes(), encoding))
}

fn parse_mailbox(field: &'static str, address: &str) -> Result<Mailbox, MailError> {
    address.trim().parse::<Mailbox>().map_err(|e| MailError::InvalidAddress {
        field,
        address: address.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(from: &str) -> SmtpConfig {
        toml::from_str(&format!("host = \"127.0.0.1\"\nport = 1\nfrom = \"{from}\"")).unwrap()
    }

    #[test]
    fn text_that_fits_goes_as_written_so_links_survive() {
        let link = format!("http://127.0.0.1:8083/link/{}.{}", "p".repeat(200), "s".repeat(43));
        let body = as_written(&format!("Approve: {link}\nBye")).unwrap();
        assert_eq!(body.encoding(), ContentTransferEncoding::SevenBit);
        assert_eq!(String::from_utf8(body.into_vec()).unwrap(), format!("Approve: {link}\r\nBye"));
        let body = as_written("Grüße\r\nà bientôt").unwrap();
        assert_eq!(body.encoding(), ContentTransferEncoding::EightBit);
        assert_eq!(String::from_utf8(body.into_vec()).unwrap(), "Grüße\r\nà bientôt");
    }

    #[test]
    fn text_that_does_not_fit_smtp_is_left_to_lettre() {
        assert!(as_written(&"x".repeat(MAX_LINE_OCTETS)).is_some());
        assert!(as_written(&"x".repeat(MAX_LINE_OCTETS + 1)).is_none());
        assert!(as_written("a\rb").is_none());
        assert!(as_written("a\0b").is_none());
    }

    #[test]
    fn defaults_are_plain_smtp_on_port_25_when_not_given() {
        let c: SmtpConfig = toml::from_str("host = \"mx\"\nfrom = \"a@b.c\"").unwrap();
        assert_eq!((c.port, c.tls, c.timeout_seconds), (25, SmtpTls::None, 30));
    }

    #[test]
    fn a_bad_sender_is_refused_with_its_field() {
        let err = Mailer::new(&config("not an address")).unwrap_err();
        assert!(err.to_string().starts_with("invalid from address"), "{err}");
    }

    #[tokio::test]
    async fn a_bad_recipient_is_refused_and_not_retried() {
        let mailer = Mailer::new(&config("Baton <baton@example.com>")).unwrap();
        let err = mailer.send("nobody", "s", "t", None).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress { field: "to", .. }), "{err}");
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn a_server_that_cannot_be_reached_is_a_transient_failure() {
        // Port 1 on loopback: nothing listens there, so the connection is refused.
        let mailer = Mailer::new(&config("baton@example.com")).unwrap();
        let err = mailer.send("a@example.com", "s", "t", Some("<p>t</p>")).await.unwrap_err();
        assert!(matches!(err, MailError::Smtp { .. }), "{err}");
        assert!(err.is_transient(), "{err}");
    }
}
