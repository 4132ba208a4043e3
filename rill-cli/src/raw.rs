//! An already-encoded protobuf message, so rill's typed calls can carry dynamic messages:
//! encoding writes the bytes as they are, decoding keeps the whole buffer.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};
use prost::DecodeError;

/// The wire bytes of one message (encoded and decoded elsewhere, with prost-reflect).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RawMessage(pub(crate) Bytes);

impl prost::Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Only reached through `merge` overrides that prost does not use; kept correct anyway by
    /// re-encoding the field as received.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        use prost::encoding::{bytes, fixed32, fixed64, uint64};
        let mut field = Vec::new();
        match wire_type {
            WireType::Varint => {
                let mut value = 0;
                uint64::merge(wire_type, &mut value, buf, ctx)?;
                uint64::encode(tag, &value, &mut field);
            }
            WireType::SixtyFourBit => {
                let mut value = 0;
                fixed64::merge(wire_type, &mut value, buf, ctx)?;
                fixed64::encode(tag, &value, &mut field);
            }
            WireType::ThirtyTwoBit => {
                let mut value = 0;
                fixed32::merge(wire_type, &mut value, buf, ctx)?;
                fixed32::encode(tag, &value, &mut field);
            }
            WireType::LengthDelimited => {
                let mut value = Vec::new();
                bytes::merge(wire_type, &mut value, buf, ctx)?;
                bytes::encode(tag, &value, &mut field);
            }
            WireType::StartGroup | WireType::EndGroup => {
                // Groups are only in proto2; skip them (prost validates nesting).
                return prost::encoding::skip_field(wire_type, tag, buf, ctx);
            }
        }
        let mut all = Vec::with_capacity(self.0.len() + field.len());
        all.extend_from_slice(&self.0);
        all.extend_from_slice(&field);
        self.0 = Bytes::from(all);
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }

    // Keeps the whole buffer, groups and all: the message is decoded later, with its
    // descriptor.
    fn merge(&mut self, mut buf: impl Buf) -> Result<(), DecodeError> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        if self.0.is_empty() {
            self.0 = bytes;
        } else {
            let mut all = self.0.to_vec();
            all.extend_from_slice(&bytes);
            self.0 = Bytes::from(all);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn decode_keeps_the_bytes_and_encode_writes_them_back() {
        let wire = Bytes::from_static(b"\x08\x96\x01\x12\x03abc");
        let raw = RawMessage::decode(wire.clone()).unwrap();
        assert_eq!(raw.0, wire);
        assert_eq!(raw.encode_to_vec(), wire.to_vec());
        assert_eq!(raw.encoded_len(), wire.len());
    }

    #[test]
    fn merge_field_reencodes_each_wire_type() {
        let cases: &[&[u8]] = &[
            b"\x08\x96\x01",
            b"\x11\x01\x02\x03\x04\x05\x06\x07\x08",
            b"\x1d\x01\x02\x03\x04",
            b"\x22\x02hi",
        ];
        for wire in cases {
            let mut raw = RawMessage::default();
            let mut buf = *wire;
            let (tag, wire_type) = prost::encoding::decode_key(&mut buf).unwrap();
            raw.merge_field(tag, wire_type, &mut buf, DecodeContext::default())
                .unwrap();
            assert_eq!(&raw.0[..], *wire);
        }
        let mut raw = RawMessage::default();
        let mut short: &[u8] = b"\x03ab";
        assert!(raw
            .merge_field(
                4,
                WireType::LengthDelimited,
                &mut short,
                DecodeContext::default()
            )
            .is_err());
    }
}
