//! Finding capability messages in thread content.
//!
//! A capability message travels as a JSON string inside a text content part, possibly with
//! whitespace around it, possibly among several parts. Text that is not JSON, or JSON that is
//! not an AITP message (no `$schema`, no object-valued key), stays text.

use super::{Envelope, ParseError};

/// One text part of a message, classified.
#[derive(Debug)]
#[non_exhaustive]
pub enum ContentPart<'a> {
    /// Plain text (including JSON that is not an AITP message).
    Text(&'a str),
    /// A capability message.
    Aitp(Envelope),
    /// An AITP message of a known type whose body does not fit it: the peer should be told.
    Invalid {
        /// The text as received.
        text: &'a str,
        /// What is wrong.
        error: ParseError,
    },
}

/// Classifies one text part.
///
/// ```
/// use aitp::capability::{ContentPart, extract_text};
/// let part = "  {\"$schema\": \"https://aitp.dev/v1/data/schema.json\",
///     \"data\": {\"fields\": [{\"id\": \"name\", \"value\": \"Ada\"}]}}\n";
/// assert!(matches!(extract_text(part), ContentPart::Aitp(_)));
/// assert!(matches!(extract_text("{\"just\": \"json\"}"), ContentPart::Text(_)));
/// assert!(matches!(extract_text("hello"), ContentPart::Text(_)));
/// ```
pub fn extract_text(text: &str) -> ContentPart<'_> {
    let trimmed = text.trim();
    // Fast rejection: not an object, or no `$schema` anywhere.
    if !(trimmed.starts_with('{') && trimmed.ends_with('}') && trimmed.contains("\"$schema\"")) {
        return ContentPart::Text(text);
    }
    match Envelope::parse(trimmed) {
        Ok(m) => ContentPart::Aitp(m),
        Err(error) if error.is_aitp() => ContentPart::Invalid { text, error },
        Err(_) => ContentPart::Text(text),
    }
}

/// The capability messages among some text parts, in order; parts that are AITP messages but
/// malformed come out as errors.
pub fn extract<'a, I>(parts: I) -> impl Iterator<Item = Result<Envelope, ParseError>> + 'a
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: 'a,
{
    parts.into_iter().filter_map(|p| match extract_text(p) {
        ContentPart::Aitp(m) => Some(Ok(m)),
        ContentPart::Invalid { error, .. } => Some(Err(error)),
        ContentPart::Text(_) => None,
    })
}
