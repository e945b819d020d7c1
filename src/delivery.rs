//! Stage 6, delivery: one RFC 5322 message per recipient, written to the
//! outbox and, in `smtp` mode, sent.
//!
//! Only this module knows lettre. Messages are built from rendered strings
//! and validated addresses; warehouse data can reach a message's body (as
//! escaped HTML) but never a header: subjects are made from the config's
//! title and the period label only. Every message has a deterministic
//! Message-ID (period, audience, recipient), which is also the key of the
//! sent-ledger, so nothing is sent twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::{
    Delivery, DeliveryMode, MAX_RETRIES, MAX_RETRY_PAUSE_SECONDS, SmtpSettings, SmtpTls,
};
use crate::fault::Fault;
use crate::state::{self, SentLedger, SentMessage, StateError};

/// The environment variable that overrides the config's SMTP server.
pub const SMTP_URL_VARIABLE: &str = "CLIENTPULSE_SMTP_URL";

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// An address or setting is wrong: nothing was sent (exit 2).
    #[error("{0}")]
    Setup(String),
    #[error("cannot write {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Ledger(#[from] StateError),
    /// Some messages could not be sent after every retry (exit 4).
    #[error(
        "{} of {} message(s) not delivered ({} sent, recorded in {}): {}",
        failed.len(), total, sent, ledger.display(), failed.join("; ")
    )]
    Failed {
        failed: Vec<String>,
        sent: usize,
        total: usize,
        ledger: PathBuf,
    },
}

impl DeliveryError {
    /// A wrong setting is the user's; a disk that cannot take the outbox or
    /// the ledger is local, not a delivery failure; only messages that
    /// could not be sent are.
    pub fn fault(&self) -> Fault {
        match self {
            DeliveryError::Setup(_) => Fault::Input,
            DeliveryError::Outbox { .. } => Fault::Internal,
            DeliveryError::Ledger(error) => error.fault(),
            DeliveryError::Failed { .. } => Fault::Delivery,
        }
    }
}

/// The report as one audience gets it, rendered: one message to each of
/// its recipients.
#[derive(Debug, Clone)]
pub struct Edition {
    pub audience: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The images the HTML shows by `cid:`.
    pub images: Vec<InlineImage>,
}

/// A PNG the HTML part refers to as `cid:<content_id>`.
#[derive(Debug, Clone)]
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

/// One message to build: who gets what.
#[derive(Debug, Clone)]
struct Letter<'a> {
    audience: String,
    recipient: String,
    subject: String,
    html: String,
    text: String,
    images: &'a [InlineImage],
}

/// What delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub written: Vec<PathBuf>,
    pub sent: usize,
    pub already_sent: usize,
}

/// Parses every address the config gives, so `check` and `run` fail before
/// any work when one is wrong. Each problem comes with the address, so the
/// caller can find its line.
pub fn validate_addresses<'a>(
    from: &str,
    recipients: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if let Err(error) = from.parse::<Mailbox>() {
        problems.push((from.to_string(), format!("delivery.from `{from}`: {error}")));
    }
    for recipient in recipients {
        if let Err(error) = recipient.parse::<Mailbox>() {
            problems.push((
                recipient.to_string(),
                format!("recipient `{recipient}` is not an address a mail server takes: {error}"),
            ));
        }
    }
    problems
}

/// Builds, writes and (in `smtp` mode, unless `dry_run`) sends `letters`.
pub async fn deliver(
    settings: &Delivery,
    editions: &[Edition],
    period_label: &str,
    date: DateTime<Utc>,
    period_dir: &Path,
    mut ledger: SentLedger,
    dry_run: bool,
) -> Result<DeliveryOutcome, DeliveryError> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| DeliveryError::Setup(format!("delivery.from `{}`: {e}", settings.from)))?;
    let letters: Vec<Letter> = editions
        .iter()
        .flat_map(|edition| {
            edition.recipients.iter().map(|recipient| Letter {
                audience: edition.audience.clone(),
                recipient: recipient.clone(),
                subject: edition.subject.clone(),
                html: edition.html.clone(),
                text: edition.text.clone(),
                images: &edition.images,
            })
        })
        .collect();
    let outbox = period_dir.join("outbox");
    let mut built = Vec::with_capacity(letters.len());
    for (index, letter) in letters.iter().enumerate() {
        let message_id = message_id(period_label, letter, &from);
        let message = build_message(&from, letter, &message_id, date)?;
        let file = outbox.join(format!(
            "{:02}-{}-{}.eml",
            index + 1,
            file_safe(&letter.audience),
            file_safe(&letter.recipient)
        ));
        state::write_atomically(&file, &message.formatted()).map_err(|source| {
            DeliveryError::Outbox {
                path: file.clone(),
                source,
            }
        })?;
        built.push((letter, message_id, message, file));
    }
    let mut outcome = DeliveryOutcome {
        written: built.iter().map(|(_, _, _, file)| file.clone()).collect(),
        ..DeliveryOutcome::default()
    };
    if dry_run || settings.mode == DeliveryMode::Outbox {
        return Ok(outcome);
    }

    let transport = smtp_transport(settings.smtp.as_ref())?;
    let mut failed = Vec::new();
    for (letter, message_id, message, _) in &built {
        if ledger.was_sent(message_id) {
            outcome.already_sent += 1;
            continue;
        }
        match send_with_retries(&transport, message, settings.retries).await {
            Ok(()) => {
                ledger
                    .record(SentMessage {
                        message_id: message_id.clone(),
                        audience: letter.audience.clone(),
                        recipient: letter.recipient.clone(),
                        // The injected clock, like every other instant of a run.
                        sent_at: crate::report::instant(date),
                    })
                    .await?;
                outcome.sent += 1;
            }
            Err(error) => failed.push(format!("{}: {error}", letter.recipient)),
        }
    }
    if failed.is_empty() {
        Ok(outcome)
    } else {
        Err(DeliveryError::Failed {
            failed,
            sent: outcome.sent + outcome.already_sent,
            total: built.len(),
            ledger: ledger.path().to_path_buf(),
        })
    }
}

fn build_message(
    from: &Mailbox,
    letter: &Letter,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<Message, DeliveryError> {
    let to: Mailbox = letter
        .recipient
        .parse()
        .map_err(|e| DeliveryError::Setup(format!("recipient `{}`: {e}", letter.recipient)))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&letter.subject)
        .date(date.into())
        .message_id(Some(message_id.to_string()))
        .header(header::MIME_VERSION_1_0)
        .multipart(body(letter))
        .map_err(|e| {
            DeliveryError::Setup(format!(
                "cannot build the message to {}: {e}",
                letter.recipient
            ))
        })
}

/// multipart/alternative: the text, then the HTML; with images, the HTML
/// in a multipart/related with each PNG inline by its Content-ID.
fn body(letter: &Letter) -> MultiPart {
    if letter.images.is_empty() {
        return MultiPart::alternative_plain_html(letter.text.clone(), letter.html.clone());
    }
    let png = ContentType::parse("image/png").unwrap_or(ContentType::TEXT_PLAIN);
    let mut related = MultiPart::related().singlepart(SinglePart::html(letter.html.clone()));
    for image in letter.images {
        related = related.singlepart(
            Attachment::new_inline(image.content_id.clone()).body(image.png.clone(), png.clone()),
        );
    }
    MultiPart::alternative()
        .singlepart(SinglePart::plain(letter.text.clone()))
        .multipart(related)
}

/// `<clientpulse.2026-W47.leadership.1a2b3c4d5e6f@example.com>`: the same
/// for the same period, audience and recipient, on every run.
fn message_id(period_label: &str, letter: &Letter, from: &Mailbox) -> String {
    let digest = Sha256::digest(format!("{}\n{}", letter.audience, letter.recipient).as_bytes());
    format!(
        "<clientpulse.{period_label}.{}.{}@{}>",
        file_safe(&letter.audience),
        &hex::encode(digest)[..16],
        from.email.domain()
    )
}

/// Keeps letters, digits, `.`, `-`, `_` and `@`; anything else becomes `_`.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP transport: `CLIENTPULSE_SMTP_URL` if set, else the config's
/// server with credentials from the environment variables it names. No
/// error message here ever repeats the URL: it may hold a password.
fn smtp_transport(settings: Option<&SmtpSettings>) -> Result<Smtp, DeliveryError> {
    if let Ok(url) = std::env::var(SMTP_URL_VARIABLE) {
        return Smtp::from_url(&url)
            .map(|builder| builder.timeout(Some(Duration::from_secs(30))).build())
            .map_err(|_| {
                DeliveryError::Setup(format!(
                    "{SMTP_URL_VARIABLE} is not a valid SMTP URL (smtp://host:25, smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required)"
                ))
            });
    }
    let settings = settings.ok_or_else(|| {
        DeliveryError::Setup(format!(
            "delivery.mode is `smtp` but neither {SMTP_URL_VARIABLE} nor delivery.smtp names a server"
        ))
    })?;
    let tls_error = |e: lettre::transport::smtp::Error| {
        DeliveryError::Setup(format!("SMTP TLS setup for {} failed: {e}", settings.host))
    };
    let mut builder = match settings.tls {
        SmtpTls::Required => Smtp::starttls_relay(&settings.host).map_err(tls_error)?,
        SmtpTls::Wrapper => Smtp::relay(&settings.host).map_err(tls_error)?,
        SmtpTls::None => Smtp::builder_dangerous(&settings.host),
    };
    if let Some(port) = settings.port {
        builder = builder.port(port);
    }
    match (&settings.username_env, &settings.password_env) {
        (Some(user_var), Some(password_var)) => {
            let read = |name: &str| {
                std::env::var(name).map_err(|_| {
                    DeliveryError::Setup(format!(
                        "delivery.smtp names the environment variable {name}, which is not set"
                    ))
                })
            };
            builder = builder.credentials(Credentials::new(read(user_var)?, read(password_var)?));
        }
        (None, None) => {}
        _ => {
            return Err(DeliveryError::Setup(
                "delivery.smtp needs both username_env and password_env, or neither".to_string(),
            ));
        }
    }
    Ok(builder.timeout(Some(Duration::from_secs(30))).build())
}

/// Sends one message, retrying transient failures with a doubling pause.
/// A permanent rejection (5xx) is not retried: it would fail again. The
/// retries and the pause have ceilings whatever the config says.
async fn send_with_retries(
    transport: &Smtp,
    message: &Message,
    retries: u32,
) -> Result<(), String> {
    let retries = retries.min(MAX_RETRIES);
    let mut attempt = 0;
    loop {
        match transport.send(message.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) if error.is_permanent() || attempt >= retries => {
                return Err(error.to_string());
            }
            Err(_) => {
                tokio::time::sleep(retry_pause(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// The pause after failed attempt `attempt` (0-based): 0.5 s, doubling,
/// never more than [`MAX_RETRY_PAUSE_SECONDS`].
fn retry_pause(attempt: u32) -> Duration {
    let ceiling = Duration::from_secs(MAX_RETRY_PAUSE_SECONDS);
    Duration::from_millis(500)
        .checked_mul(2u32.saturating_pow(attempt))
        .map_or(ceiling, |pause| pause.min(ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_safe() {
        let letter = Letter {
            audience: "leadership team".into(),
            recipient: "ceo@example.com".into(),
            subject: String::new(),
            html: String::new(),
            text: String::new(),
            images: &[],
        };
        let from: Mailbox = "Pulse <pulse@example.com>".parse().unwrap();
        let a = message_id("2026-W47", &letter, &from);
        assert_eq!(a, message_id("2026-W47", &letter, &from));
        assert!(a.starts_with("<clientpulse.2026-W47.leadership_team."));
        assert!(a.ends_with("@example.com>"));
        assert_ne!(a, message_id("2026-W48", &letter, &from));
    }

    #[test]
    fn retry_pauses_double_up_to_a_ceiling() {
        assert_eq!(retry_pause(0), Duration::from_millis(500));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        assert_eq!(
            retry_pause(40),
            Duration::from_secs(MAX_RETRY_PAUSE_SECONDS)
        );
        assert_eq!(
            retry_pause(u32::MAX),
            Duration::from_secs(MAX_RETRY_PAUSE_SECONDS)
        );
    }

    #[test]
    fn outbox_file_names_stay_in_the_outbox() {
        for hostile in ["../../etc/passwd", "a/b", "..", "C:\\x", "a\0b", "é/../x"] {
            let name = file_safe(hostile);
            assert!(
                !name.contains('/') && !name.contains('\\') && !name.contains('\0'),
                "{name}"
            );
            let file = format!("01-{name}-{name}.eml");
            let path = Path::new("outbox").join(&file);
            assert_eq!(path.parent(), Some(Path::new("outbox")), "{file}");
            assert_eq!(
                path.file_name().map(|n| n.to_string_lossy().into_owned()),
                Some(file)
            );
        }
    }

    #[test]
    fn addresses_are_validated() {
        let problems =
            validate_addresses("pulse@example.com", ["ok@example.com", "not an address"]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "not an address");
    }
}
