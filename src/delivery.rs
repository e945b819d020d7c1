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
        "{} of {} message(s) not delivered ({} sent, recorded in {}); a re-run sends only the rest:\n{}",
        failed, total, sent, ledger.display(),
        summary.iter().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
    )]
    Failed {
        failed: usize,
        sent: usize,
        total: usize,
        ledger: PathBuf,
        /// One line per recipient.
        summary: Vec<RecipientOutcome>,
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
    /// Its `List-Unsubscribe` target (`mailto:…` or `https://…`).
    pub unsubscribe: Option<String>,
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
    unsubscribe: Option<String>,
}

/// What delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub written: Vec<PathBuf>,
    pub sent: usize,
    pub already_sent: usize,
    /// What became of each recipient's message, in order.
    pub recipients: Vec<RecipientOutcome>,
}

/// One recipient's message, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    pub audience: String,
    pub recipient: String,
    pub status: RecipientStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientStatus {
    /// Written to the outbox only (outbox mode or a dry run).
    Written,
    Sent,
    /// Sent again on purpose (`--resend`).
    Resent,
    /// The ledger says an earlier run sent it.
    AlreadySent,
    /// Refused or unreachable after every retry.
    Failed(String),
}

impl std::fmt::Display for RecipientOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match &self.status {
            RecipientStatus::Written => "written to the outbox".to_string(),
            RecipientStatus::Sent => "sent".to_string(),
            RecipientStatus::Resent => "sent again (--resend)".to_string(),
            RecipientStatus::AlreadySent => "already sent by an earlier run".to_string(),
            RecipientStatus::Failed(why) => format!("NOT SENT: {why}"),
        };
        write!(f, "{} ({}): {status}", self.recipient, self.audience)
    }
}

/// What `--resend` asks to send again although the ledger has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resend {
    #[default]
    Nothing,
    Everyone,
    Only(String),
}

impl Resend {
    fn applies_to(&self, recipient: &str) -> bool {
        match self {
            Resend::Nothing => false,
            Resend::Everyone => true,
            Resend::Only(address) => address.eq_ignore_ascii_case(recipient),
        }
    }
}

/// Whether `text` is a bare e-mail address a message may go to: what a
/// `per:` audience accepts from the warehouse (anything else, a name or a
/// line break, is skipped, so warehouse text never shapes a header).
pub fn is_plain_address(text: &str) -> bool {
    text.len() <= 254
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\",;:()[]\\".contains(c))
        && text.parse::<lettre::Address>().is_ok()
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

/// What one week's delivery is asked to do, besides the config's settings.
#[derive(Debug, Clone)]
pub struct Week<'a> {
    pub label: &'a str,
    /// The run's clock: every message's Date.
    pub date: DateTime<Utc>,
    /// `<out>/<week>/`: the outbox goes under it.
    pub dir: &'a Path,
    pub resend: &'a Resend,
    /// Write the outbox, send nothing.
    pub dry_run: bool,
}

/// Builds, writes and (in `smtp` mode, unless a dry run) sends one message
/// per recipient of `editions`.
pub async fn deliver(
    settings: &Delivery,
    editions: &[Edition],
    week: &Week<'_>,
    mut ledger: SentLedger,
) -> Result<DeliveryOutcome, DeliveryError> {
    let Week {
        label: period_label,
        date,
        dir: period_dir,
        resend,
        dry_run,
    } = *week;
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| DeliveryError::Setup(format!("delivery.from `{}`: {e}", settings.from)))?;
    let reply_to: Option<Mailbox> = settings
        .reply_to
        .as_deref()
        .map(|address| {
            address
                .parse()
                .map_err(|e| DeliveryError::Setup(format!("delivery.reply_to `{address}`: {e}")))
        })
        .transpose()?;
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
                unsubscribe: edition.unsubscribe.clone(),
            })
        })
        .collect();
    // Where to send is known before anything is written: a run that cannot
    // send leaves no outbox behind that looks like a sent one.
    let sending = !dry_run && settings.mode == DeliveryMode::Smtp;
    let transport = if sending {
        let server = server(settings.smtp.as_ref())?;
        Some(smtp_transport(&server, settings.smtp.as_ref())?)
    } else {
        None
    };
    let outbox = period_dir.join("outbox");
    let mut built = Vec::with_capacity(letters.len());
    for (index, letter) in letters.iter().enumerate() {
        let message_id = message_id(period_label, letter, &from);
        let message = build_message(&from, reply_to.as_ref(), letter, &message_id, date)?;
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
    let line = |letter: &Letter, status| RecipientOutcome {
        audience: letter.audience.clone(),
        recipient: letter.recipient.clone(),
        status,
    };
    let Some(transport) = transport else {
        outcome.recipients = built
            .iter()
            .map(|(letter, ..)| line(letter, RecipientStatus::Written))
            .collect();
        return Ok(outcome);
    };

    if let Resend::Only(address) = resend
        && !built
            .iter()
            .any(|(letter, ..)| letter.recipient.eq_ignore_ascii_case(address))
    {
        return Err(DeliveryError::Setup(format!(
            "--resend {address}: no message of {period_label} goes to that address"
        )));
    }
    let mut failed = 0;
    for (letter, message_id, message, _) in &built {
        let again = resend.applies_to(&letter.recipient);
        if ledger.was_sent(message_id) && !again {
            outcome.already_sent += 1;
            outcome
                .recipients
                .push(line(letter, RecipientStatus::AlreadySent));
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
                        content_sha256: hex::encode(Sha256::digest(message.formatted())),
                    })
                    .await?;
                outcome.sent += 1;
                let status = if again && ledger.times_sent(message_id) > 1 {
                    RecipientStatus::Resent
                } else {
                    RecipientStatus::Sent
                };
                outcome.recipients.push(line(letter, status));
                crash_point(outcome.sent);
            }
            Err(error) => {
                failed += 1;
                outcome
                    .recipients
                    .push(line(letter, RecipientStatus::Failed(error)));
            }
        }
    }
    if failed == 0 {
        Ok(outcome)
    } else {
        Err(DeliveryError::Failed {
            failed,
            sent: outcome.sent + outcome.already_sent,
            total: built.len(),
            ledger: ledger.path().to_path_buf(),
            summary: outcome.recipients,
        })
    }
}

/// The variable that makes a debug build abort right after its N-th
/// accepted and recorded message: how the tests kill a run at every point
/// between two sends. Release builds do not have it.
pub const CRASH_AFTER_SENDS_VARIABLE: &str = "CLIENTPULSE_TEST_CRASH_AFTER_SENDS";

#[cfg(debug_assertions)]
fn crash_point(sent: usize) {
    let limit = std::env::var(CRASH_AFTER_SENDS_VARIABLE)
        .ok()
        .and_then(|value| value.parse::<usize>().ok());
    if limit == Some(sent) {
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn crash_point(_sent: usize) {}

fn build_message(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    letter: &Letter,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<Message, DeliveryError> {
    let to: Mailbox = letter
        .recipient
        .parse()
        .map_err(|e| DeliveryError::Setup(format!("recipient `{}`: {e}", letter.recipient)))?;
    let mut builder = Message::builder().from(from.clone());
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    if let Some(target) = &letter.unsubscribe {
        builder = builder.header(ListUnsubscribe(target.clone()));
    }
    builder
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

/// `List-Unsubscribe: <target>` (RFC 2369), so mail clients offer their own
/// unsubscribe button. The target comes from the config, validated there.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(
            text.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string(),
        ))
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
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

/// Where the SMTP server is and how to talk to it.
#[derive(Debug, PartialEq)]
struct Server {
    host: String,
    port: u16,
    tls: SmtpTls,
    /// User and password, never printed.
    credentials: Option<(String, String)>,
}

/// The server: `CLIENTPULSE_SMTP_URL` if set, else the config's, with
/// credentials from the environment variables it names.
fn server(settings: Option<&SmtpSettings>) -> Result<Server, DeliveryError> {
    if let Ok(url) = std::env::var(SMTP_URL_VARIABLE) {
        return parse_smtp_url(&url);
    }
    let no_server = || {
        DeliveryError::Setup(format!(
            "delivery.mode is `smtp` but neither {SMTP_URL_VARIABLE} nor delivery.smtp.host names a server"
        ))
    };
    let settings = settings.ok_or_else(no_server)?;
    let host = settings.host.clone().ok_or_else(no_server)?;
    let credentials = match (&settings.username_env, &settings.password_env) {
        (Some(user_var), Some(password_var)) => {
            let read = |name: &str| {
                std::env::var(name).map_err(|_| {
                    DeliveryError::Setup(format!(
                        "delivery.smtp names the environment variable {name}, which is not set"
                    ))
                })
            };
            Some((read(user_var)?, read(password_var)?))
        }
        (None, None) => None,
        _ => {
            return Err(DeliveryError::Setup(
                "delivery.smtp needs both username_env and password_env, or neither".to_string(),
            ));
        }
    };
    Ok(Server {
        port: settings.port.unwrap_or(default_port(settings.tls)),
        host,
        tls: settings.tls,
        credentials,
    })
}

fn default_port(tls: SmtpTls) -> u16 {
    match tls {
        SmtpTls::Required => 587,
        SmtpTls::Wrapper => 465,
        SmtpTls::None => 25,
    }
}

/// lettre's URL form: `smtps://user:pass@host:465` (TLS from the first
/// byte), `smtp://user:pass@host:587?tls=required` (STARTTLS, required),
/// `smtp://host:25` (plain, only because the URL says so). No message here
/// repeats the URL: it may hold a password.
fn parse_smtp_url(text: &str) -> Result<Server, DeliveryError> {
    let invalid = |why: &str| {
        DeliveryError::Setup(format!(
            "{SMTP_URL_VARIABLE} is not a valid SMTP URL ({why}): use smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required or smtp://host:25"
        ))
    };
    let url = url::Url::parse(text).map_err(|_| invalid("does not parse"))?;
    let tls = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let tls = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => SmtpTls::Wrapper,
        ("smtp", Some("required")) => SmtpTls::Required,
        ("smtp", None) => SmtpTls::None,
        ("smtp", Some(_)) => return Err(invalid("tls= takes only `required`")),
        _ => return Err(invalid("the scheme is neither smtp nor smtps")),
    };
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| invalid("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| invalid("the user or password is not UTF-8"))
    };
    let credentials = match url.password() {
        Some(password) => Some((decode(url.username())?, decode(password)?)),
        None if !url.username().is_empty() => return Err(invalid("a user without a password")),
        None => None,
    };
    Ok(Server {
        port: url.port().unwrap_or(default_port(tls)),
        host,
        tls,
        credentials,
    })
}

/// The SMTP transport to `server`: TLS as it says (trusting the config's
/// private certificate authority beside the system's), a time-out on
/// connecting and on every command.
fn smtp_transport(server: &Server, settings: Option<&SmtpSettings>) -> Result<Smtp, DeliveryError> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let setup = |what: String| DeliveryError::Setup(what);
    let tls = || {
        let mut parameters = TlsParameters::builder(server.host.clone());
        if let Some(file) = settings.and_then(|s| s.ca_file.as_ref()) {
            let pem = std::fs::read(file)
                .map_err(|e| setup(format!("delivery.smtp.ca_file {}: {e}", file.display())))?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| {
                setup(format!(
                    "delivery.smtp.ca_file {}: not a PEM certificate: {e}",
                    file.display()
                ))
            })?;
            parameters = parameters.add_root_certificate(certificate);
        }
        parameters
            .build()
            .map_err(|e| setup(format!("SMTP TLS setup for {} failed: {e}", server.host)))
    };
    let mut builder =
        Smtp::builder_dangerous(&server.host)
            .port(server.port)
            .tls(match server.tls {
                SmtpTls::Required => Tls::Required(tls()?),
                SmtpTls::Wrapper => Tls::Wrapper(tls()?),
                SmtpTls::None => Tls::None,
            });
    if let Some((user, password)) = &server.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let timeout = settings.map_or(Duration::from_secs(30), |s| s.timeout);
    Ok(builder.timeout(Some(timeout)).build())
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
            unsubscribe: None,
        };
        let from: Mailbox = "Pulse <pulse@example.com>".parse().unwrap();
        let a = message_id("2026-W47", &letter, &from);
        assert_eq!(a, message_id("2026-W47", &letter, &from));
        assert!(a.starts_with("<clientpulse.2026-W47.leadership_team."));
        assert!(a.ends_with("@example.com>"));
        assert_ne!(a, message_id("2026-W48", &letter, &from));
    }

    #[test]
    fn smtp_urls_say_how_to_connect_and_never_echo_a_password() {
        let server = parse_smtp_url("smtps://me%40acme.com:p%40ss@mail.acme.com").unwrap();
        assert_eq!(
            server,
            Server {
                host: "mail.acme.com".into(),
                port: 465,
                tls: SmtpTls::Wrapper,
                credentials: Some(("me@acme.com".into(), "p@ss".into())),
            }
        );
        let starttls = parse_smtp_url("smtp://u:p@relay:2587?tls=required").unwrap();
        assert_eq!((starttls.port, starttls.tls), (2587, SmtpTls::Required));
        let plain = parse_smtp_url("smtp://127.0.0.1").unwrap();
        assert_eq!(
            (plain.port, plain.tls, plain.credentials),
            (25, SmtpTls::None, None)
        );
        for bad in [
            "http://u:hunter2@relay",
            "smtp://u:hunter2@relay?tls=maybe",
            "smtp://u@relay",
            "not a url hunter2",
        ] {
            let error = parse_smtp_url(bad).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
            assert!(error.contains(SMTP_URL_VARIABLE), "{error}");
        }
    }

    #[test]
    fn only_bare_addresses_from_the_warehouse_become_recipients() {
        assert!(is_plain_address("am1@example.com"));
        for bad in [
            "Ann Smith",
            "am1@example.com\r\nBcc: all@example.com",
            "Ann <am1@example.com>",
            "am1@example.com, am2@example.com",
            "",
        ] {
            assert!(!is_plain_address(bad), "{bad:?}");
        }
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
