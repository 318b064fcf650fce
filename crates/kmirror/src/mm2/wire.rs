//! The few Kafka `Schema` primitives MM2's records use.

/// Longest STRING Kafka's schema encoding can carry (its length prefix is a signed INT16).
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Why bytes are not a valid MM2 record, or a value cannot be encoded as one. `field` names the record,
/// the part and the field, e.g. `checkpoint.key.group`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mm2CodecError {
    #[error("{field}: truncated, needs {needed} bytes but only {available} are left")]
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{field}: negative string length {len}")]
    NegativeLength { field: &'static str, len: i16 },
    #[error("{field}: string is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error(
        "{field}: string of {len} bytes exceeds the {MAX_STRING_LEN}-byte limit of Kafka's STRING"
    )]
    StringTooLong { field: &'static str, len: usize },
}

/// Reads fields in order from a byte slice; whatever is left at the end is ignored.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Mm2CodecError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(Mm2CodecError::Truncated {
                field,
                needed: N,
                available: self.rest.len(),
            });
        };
        self.rest = rest;
        Ok(*head)
    }

    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, Mm2CodecError> {
        self.take::<2>(field).map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, Mm2CodecError> {
        self.take::<4>(field).map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self, field: &'static str) -> Result<i64, Mm2CodecError> {
        self.take::<8>(field).map(i64::from_be_bytes)
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, Mm2CodecError> {
        let len = self.i16(field)?;
        let Ok(len) = usize::try_from(len) else {
            return Err(Mm2CodecError::NegativeLength { field, len });
        };
        if self.rest.len() < len {
            return Err(Mm2CodecError::Truncated {
                field,
                needed: len,
                available: self.rest.len(),
            });
        }
        let (text, rest) = self.rest.split_at(len);
        self.rest = rest;
        String::from_utf8(text.to_vec()).map_err(|_| Mm2CodecError::InvalidUtf8 { field })
    }
}

/// Appends fields in order.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    pub(crate) fn i16(mut self, v: i16) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn i32(mut self, v: i32) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn i64(mut self, v: i64) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn string(mut self, field: &'static str, s: &str) -> Result<Self, Mm2CodecError> {
        let Ok(len) = i16::try_from(s.len()) else {
            return Err(Mm2CodecError::StringTooLong {
                field,
                len: s.len(),
            });
        };
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        Ok(self)
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_rejects_negative_length_and_short_input() {
        assert_eq!(
            Reader::new(&[0xff, 0xfe]).string("f"),
            Err(Mm2CodecError::NegativeLength {
                field: "f",
                len: -2
            })
        );
        assert_eq!(
            Reader::new(&[0x00, 0x03, b'a']).string("f"),
            Err(Mm2CodecError::Truncated {
                field: "f",
                needed: 3,
                available: 1
            })
        );
        assert_eq!(
            Reader::new(&[0x00]).string("f"),
            Err(Mm2CodecError::Truncated {
                field: "f",
                needed: 2,
                available: 1
            })
        );
        assert_eq!(
            Reader::new(&[0x00, 0x01, 0xff]).string("f"),
            Err(Mm2CodecError::InvalidUtf8 { field: "f" })
        );
    }

    #[test]
    fn string_limit_is_i16_max() {
        let ok = "x".repeat(MAX_STRING_LEN);
        let bytes = Writer::default()
            .string("f", &ok)
            .expect("max fits")
            .finish();
        assert_eq!(&bytes[..2], &[0x7f, 0xff]);
        assert_eq!(Reader::new(&bytes).string("f").expect("reads back"), ok);
        let too_long = "x".repeat(MAX_STRING_LEN + 1);
        assert_eq!(
            Writer::default().string("f", &too_long).err(),
            Some(Mm2CodecError::StringTooLong {
                field: "f",
                len: MAX_STRING_LEN + 1
            })
        );
    }

    #[test]
    fn empty_string_is_two_zero_bytes() {
        let bytes = Writer::default().string("f", "").expect("fits").finish();
        assert_eq!(bytes, vec![0, 0]);
    }
}
