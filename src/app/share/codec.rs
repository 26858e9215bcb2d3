//! The URL codecs of the hash: base64url for `scenario=` (the `base64` crate) and percent escapes
//! for every key and value (the `percent-encoding` crate), with the errors the page shows.

use crate::error::{Error, Result};
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeError, Engine};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Base64url, written without padding; read with or without it, ignoring stray low bits in the
/// last character (links cut by hand or by mail programs).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// What stays unescaped in a key or value: letters, digits and `-_.,~` (commas keep lists such
/// as `flows=adapted,standard` readable).
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b',')
    .remove(b'~');

/// Base64url without padding (RFC 4648 §5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// Decodes base64url (padding optional; `+` and `/` accepted too).
///
/// Errors: [`Error::Encoding`] for a character outside the alphabet, or a length that cannot be
/// base64.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>> {
    // Links written with the standard alphabet (`+`, `/`) or with padding read the same.
    let text: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    B64URL.decode(&text).map_err(|e| {
        Error::Encoding(match e {
            DecodeError::InvalidByte(i, b) | DecodeError::InvalidLastSymbol(i, b) => {
                format!("not base64url: character {:?} at position {i}", b as char)
            }
            DecodeError::InvalidLength(n) => {
                format!("not base64url: {n} characters cannot encode whole bytes")
            }
            DecodeError::InvalidPadding => "not base64url: misplaced padding".into(),
        })
    })
}

/// Decodes `%xx` escapes and `+` (a space).
///
/// Errors: [`Error::Encoding`] for a bad escape or bytes that are not UTF-8.
pub(super) fn percent_decode(v: &str) -> Result<String> {
    // The crate passes a malformed escape through unchanged; a link with one was cut or mistyped,
    // and the page says where.
    let bytes = v.as_bytes();
    for (i, _) in v.match_indices('%') {
        let hex = bytes.get(i + 1..i + 3);
        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return Err(Error::Encoding(format!(
                "bad percent escape at position {i}"
            )));
        }
    }
    let spaced = v.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::Encoding("not UTF-8 after percent-decoding".into()))
}

/// Escapes everything but letters, digits and `-_.,~` as `%XX`.
pub(super) fn percent_encode(v: &str) -> String {
    utf8_percent_encode(v, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64url_encode(&bytes);
            assert!(!enc.contains(['=', '+', '/']));
            assert_eq!(base64url_decode(&enc).unwrap(), bytes, "{enc}");
        }
        assert_eq!(base64url_encode(b"Man"), "TWFu");
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(base64url_decode("-_8=").unwrap(), b"\xfb\xff");
        assert_eq!(base64url_decode("+/8").unwrap(), b"\xfb\xff");
        assert!(base64url_decode("ab$d")
            .unwrap_err()
            .to_string()
            .contains("'$' at position 2"));
        assert!(base64url_decode("abcde").is_err());
    }

    #[test]
    fn percent_coding_round_trips() {
        for v in ["a b", "α=0.5", "x&y=z", "%"] {
            assert_eq!(percent_decode(&percent_encode(v)).unwrap(), v);
        }
        assert_eq!(percent_encode("α=0.5, b"), "%CE%B1%3D0.5,%20b");
        assert_eq!(percent_decode("a+b%2B").unwrap(), "a b+");
        assert!(percent_decode("50%")
            .unwrap_err()
            .to_string()
            .contains("position 2"));
        assert!(percent_decode("%zz").is_err());
    }
}
