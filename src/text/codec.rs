//! Byte codecs for stored hashes: LEB128 varints, counted lists, and Rice
//! codes for ascending lists. A leaf: it knows nothing of what it encodes.

/// Bytes that do not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed encoding")]
pub struct CodecError;

/// LEB128: seven bits a byte, low bits first.
pub fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a [`put_varint`] number; returns it and the bytes after it.
pub fn get_varint(b: &[u8]) -> Option<(u32, &[u8])> {
    let mut r = Reader(b);
    let v = r.varint().ok()?;
    Some((v, r.0))
}

/// Reads fixed-size values, counted lists and varints from a byte slice.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(CodecError)?;
        self.0 = rest;
        head.try_into().map_err(|_| CodecError)
    }

    pub(crate) fn list(&mut self) -> Result<Vec<u32>, CodecError> {
        let n = self.take::<1>()?[0] as usize;
        (0..n)
            .map(|_| self.take().map(u32::from_le_bytes))
            .collect()
    }

    pub(crate) fn varint(&mut self) -> Result<u32, CodecError> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let [b] = self.take::<1>()?;
            v |= u32::from(b & 0x7F).checked_shl(shift).ok_or(CodecError)?;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(CodecError)
    }
}

/// Rice codes for a short ascending list of hashes: each gap from the
/// previous value (the first from 0) as its quotient by 2^k in unary and
/// its k low bits, k chosen from the mean gap and written first. Bits fill
/// each byte from its lowest; the code ends on a byte boundary.
pub mod rice {
    use super::CodecError;

    pub fn encode(sorted: &[u32], out: &mut Vec<u8>) {
        let last = sorted.last().copied().unwrap_or(0);
        let mean = u64::from(last) / sorted.len().max(1) as u64;
        // The best k for geometric gaps is about log2(mean · ln 2).
        let k = (mean * 7 / 10).max(1).ilog2();
        out.push(k as u8);
        let mut bits = Bits {
            out,
            acc: 0,
            used: 0,
        };
        let mut prev = 0u32;
        for &v in sorted {
            let gap = v.wrapping_sub(prev);
            prev = v;
            for _ in 0..(gap >> k) {
                bits.put(1, 1);
            }
            bits.put(0, 1);
            bits.put(u64::from(gap) & ((1 << k) - 1), k);
        }
        bits.finish();
    }

    struct Bits<'a> {
        out: &'a mut Vec<u8>,
        acc: u64,
        used: u32,
    }

    impl Bits<'_> {
        fn put(&mut self, v: u64, n: u32) {
            self.acc |= v << self.used;
            self.used += n;
            while self.used >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.used -= 8;
            }
        }

        fn finish(&mut self) {
            if self.used > 0 {
                self.out.push(self.acc as u8);
            }
        }
    }

    /// Reads `n` values; returns them and the bytes after the code.
    pub fn decode(b: &[u8], n: usize) -> Result<(Vec<u32>, &[u8]), CodecError> {
        let (&k, code) = b.split_first().ok_or(CodecError)?;
        if k > 31 {
            return Err(CodecError);
        }
        let k = u32::from(k);
        let mut at = 0usize;
        let mut prev = 0u32;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut q = 0usize;
            loop {
                let (w, valid) = peek(code, at);
                if valid == 0 {
                    return Err(CodecError);
                }
                let ones = w.trailing_ones().min(valid) as usize;
                q += ones;
                at += ones;
                if ones < valid as usize {
                    break;
                }
            }
            // The 0 that ends the unary part.
            at += 1;
            let (w, valid) = peek(code, at);
            if valid < k {
                return Err(CodecError);
            }
            let low = (w & ((1u64 << k) - 1)) as u32;
            at += k as usize;
            let gap = u32::try_from(q)
                .ok()
                .and_then(|q| q.checked_shl(k).filter(|g| g >> k == q))
                .ok_or(CodecError)?
                | low;
            prev = prev.wrapping_add(gap);
            out.push(prev);
        }
        Ok((out, code.get(at.div_ceil(8)..).ok_or(CodecError)?))
    }

    /// The bits of `code` from bit `at` on, and how many of them there are
    /// (at most 57).
    fn peek(code: &[u8], at: usize) -> (u64, u32) {
        let byte = at / 8;
        let Some(rest) = code.get(byte..) else {
            return (0, 0);
        };
        let n = rest.len().min(8);
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&rest[..n]);
        let shift = (at % 8) as u32;
        (
            u64::from_le_bytes(buf) >> shift,
            (n as u32 * 8).saturating_sub(shift),
        )
    }
}
